"""Shared fixtures of the ganutils tests: seeds, data and small models."""

import os

# Set before TensorFlow is first imported, so its C++ start-up lines stay quiet.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from ganutils import data  # noqa: E402

SEED = 1234


@pytest.fixture(autouse=True)
def seed_everything():
    """Seed Python, NumPy and the backend before every test."""
    keras.utils.set_random_seed(SEED)


@pytest.fixture
def rng():
    """A NumPy generator with a fixed seed, for test inputs."""
    return np.random.default_rng(SEED)


@pytest.fixture(scope="session")
def fashion_mnist_train():
    """Fashion-MNIST's training split, loaded once: `(images, labels)`."""
    return data.load_dataset("fashion_mnist", "train")


@pytest.fixture(scope="session")
def fashion_mnist_test():
    """Fashion-MNIST's test split, loaded once: `(images, labels)`."""
    return data.load_dataset("fashion_mnist", "test")
