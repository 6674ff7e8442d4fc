"""ganutils: the tested helpers behind the GAN course's notebooks."""

import os

# Hide TensorFlow's C++ start-up messages unless the user asked for them.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from ganutils.gan import GAN  # noqa: E402

__all__ = ["GAN"]
__version__ = "0.1.0"
