"""ganutils: the tested helpers behind the GAN course's notebooks."""

import os

# Hide TensorFlow's C++ log messages unless the user asked for them. Level 3
# also hides C++ ERROR lines, which TF 2.21 prints for harmless events such as
# "failed call to cuInit" on a machine without a GPU and Grappler's "remapper
# failed" while training the DCGAN; errors that matter still raise in Python.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

__all__ = ["GAN"]
__version__ = "0.1.0"


def __getattr__(name):
    # `ganutils.GAN` imports TensorFlow on first use, so `ganutils --help`
    # and the modules that need only NumPy start without it.
    if name == "GAN":
        from ganutils.gan import GAN

        return GAN
    raise AttributeError(f"module 'ganutils' has no attribute {name!r}")
