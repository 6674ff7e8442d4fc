"""Checks on the saved notebooks: outputs of a full run, skeleton, no errors.

These tests read the notebook files only and run nothing, so they are fast.
They fail when a notebook was saved without its outputs, with an error in a
cell that is not expected to raise, with cells run out of order, or without
the skeleton that CONTRIBUTING.md describes. `bash scripts/run_notebooks.sh`
regenerates the outputs.
"""

import json
import re
from pathlib import Path

import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
RAISES_TAG = "raises-exception"
# Start of a line that TensorFlow's C++ logging writes, such as
# "I0000 00:00:1796403918.347140    5005 port.cc:153] oneDNN custom ...".
TENSORFLOW_LOG_LINE = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+ ", re.MULTILINE)

pytestmark = pytest.mark.skipif(not NOTEBOOKS, reason="no notebooks in notebooks/")


def _load(path):
    with open(path, encoding="utf-8") as file:
        return json.load(file)


def _source(cell):
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _code_cells(notebook):
    return [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]


def _markdown(notebook):
    cells = notebook["cells"]
    return [_source(cell) for cell in cells if cell["cell_type"] == "markdown"]


def _label(path, index):
    return f"{path.name}, code cell {index + 1}"


@pytest.fixture(params=NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def notebook_path(request):
    return request.param


def test_notebook_code_cells_executed(notebook_path):
    notebook = _load(notebook_path)
    not_run = [
        _label(notebook_path, index)
        for index, cell in enumerate(_code_cells(notebook))
        if cell.get("execution_count") is None
    ]
    assert not not_run, (
        f"Cells saved without being run: {not_run}. Run "
        "`bash scripts/run_notebooks.sh` and commit the outputs."
    )


def test_notebook_cells_run_in_order(notebook_path):
    counts = [cell.get("execution_count") for cell in _code_cells(_load(notebook_path))]
    expected = list(range(1, len(counts) + 1))
    assert counts == expected, (
        f"{notebook_path.name} was not run once from top to bottom: its "
        f"execution counts are {counts}, expected {expected}."
    )


def test_notebook_has_outputs(notebook_path):
    cells = _code_cells(_load(notebook_path))
    assert cells, f"{notebook_path.name} has no code cells."
    with_outputs = [cell for cell in cells if cell.get("outputs")]
    assert with_outputs, f"{notebook_path.name} was saved without any outputs."


def test_notebook_plots_saved(notebook_path):
    # Only a top-level `plt.show()` always draws. One inside a function or a
    # branch may not run.
    missing = []
    for index, cell in enumerate(_code_cells(_load(notebook_path))):
        if "plt.show()" not in _source(cell).splitlines():
            continue
        images = [
            output
            for output in cell.get("outputs", [])
            if "image/png" in output.get("data", {})
        ]
        if not images:
            missing.append(_label(notebook_path, index))
    assert not missing, f"Plot cells saved without their figure: {missing}."


def test_notebook_errors_only_where_expected(notebook_path):
    unexpected = []
    missing = []
    for index, cell in enumerate(_code_cells(_load(notebook_path))):
        tagged = RAISES_TAG in cell.get("metadata", {}).get("tags", [])
        errors = [o for o in cell.get("outputs", []) if o["output_type"] == "error"]
        if errors and not tagged:
            unexpected.append(f"{_label(notebook_path, index)}: {errors[0]['ename']}")
        if tagged and not errors:
            missing.append(_label(notebook_path, index))
    assert not unexpected, f"Errors in cells not tagged {RAISES_TAG!r}: {unexpected}."
    assert not missing, f"Cells tagged {RAISES_TAG!r} that raised nothing: {missing}."


def test_notebook_free_of_tensorflow_log_lines(notebook_path):
    noisy = []
    for index, cell in enumerate(_code_cells(_load(notebook_path))):
        for output in cell.get("outputs", []):
            if output["output_type"] != "stream":
                continue
            text = "".join(output.get("text", ""))
            if TENSORFLOW_LOG_LINE.search(text):
                noisy.append(_label(notebook_path, index))
    assert not noisy, (
        f"TensorFlow log lines in the saved outputs of {noisy}. Set "
        "TF_CPP_MIN_LOG_LEVEL before TensorFlow is imported."
    )


def test_notebook_skeleton(notebook_path):
    notebook = _load(notebook_path)
    first = notebook["cells"][0]
    assert first["cell_type"] == "markdown", "The first cell must be markdown."
    assert _source(first).startswith("# "), "The first cell must start with a title."

    headings = [
        line.strip()
        for text in _markdown(notebook)
        for line in text.splitlines()
        if line.startswith("#")
    ]
    assert "## Setup" in headings, f"{notebook_path.name} has no '## Setup' section."
    assert "## Summary" in headings, f"{notebook_path.name} has no '## Summary'."
    assert "## Exercises" in headings, f"{notebook_path.name} has no '## Exercises'."
    assert headings.index("## Summary") < headings.index("## Exercises")

    markdown = _markdown(notebook)
    start = next(i for i, text in enumerate(markdown) if "## Exercises" in text)
    exercises = "\n".join(markdown[start:])
    assert "<details>" in exercises, "Exercise solutions belong in <details> blocks."


def test_notebook_reads_fast_mode(notebook_path):
    sources = "\n".join(_source(cell) for cell in _code_cells(_load(notebook_path)))
    assert 'os.environ.get("GANUTILS_FAST")' in sources, (
        f"{notebook_path.name} does not read GANUTILS_FAST in its Setup cell."
    )


def test_notebook_states_full_mode_time(notebook_path):
    prose = "\n".join(_markdown(_load(notebook_path))).lower()
    assert "full mode" in prose, f"{notebook_path.name} never mentions full mode."
    assert "cpu" in prose, (
        f"{notebook_path.name} does not state its full-mode run time and the "
        "CPU it was measured on."
    )
