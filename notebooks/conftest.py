"""pytest settings for running the notebooks with nbval.

nbval compares the stored and the new outputs of cells marked
`# NBVAL_CHECK_OUTPUT`. Standard error is left out of that comparison:
TensorFlow and its libraries write start-up lines and warnings there that
differ between machines and versions, and they do not show whether a
cell computed the right result. Standard output, results and displayed
values are still compared.
"""

from nbval.plugin import IPyNbFile


def pytest_collectstart(collector):
    # nbval turns each stream output into a dict keyed by the stream's name,
    # so adding "stderr" to skip_compare drops standard error from the check.
    if isinstance(collector, IPyNbFile):
        collector.skip_compare = (*collector.skip_compare, "stderr")
