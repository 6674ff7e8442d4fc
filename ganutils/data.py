"""Datasets: Fashion-MNIST and MNIST from their idx files, pipelines, folders.

Every loader returns images as float32 NumPy arrays of shape
`(n, height, width, channels)` with values in [-1, 1], the range of a
generator's `tanh` output, and labels as int64 arrays of shape `(n,)`.
"""

import gzip
import hashlib
import http.client
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import numpy as np

PROJECT_DATA_DIR = Path(__file__).resolve().parent.parent / "data"
DEBIAN_DATA_DIR = Path("/usr/share/datasets")
DOWNLOAD_TIMEOUT_SECONDS = 30

FILE_NAMES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

# SHA-256 of each file. `gz` lists accepted digests of the .gz file itself.
# `payload` is the digest of the decompressed idx bytes, which does not depend
# on how the file was compressed. The MNIST .gz digests are those of the files
# published by LeCun et al., which the mirror in DOWNLOAD_URLS serves too.
# Debian's dataset-fashion-mnist package recompresses Zalando's files, so its
# .gz bytes differ from the published ones. The Fashion-MNIST digests below
# were therefore computed from Debian's package (0.0~git20200523.55506a9-1).
# NOTE: the Fashion-MNIST payload digests have not been compared with a fresh
# download from Zalando's site, which this offline machine cannot reach.
CHECKSUMS = {
    "fashion_mnist": {
        "train-images-idx3-ubyte.gz": {
            "gz": ("b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",),
            "payload": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",  # noqa: E501
        },
        "train-labels-idx1-ubyte.gz": {
            "gz": ("0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",),
            "payload": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",  # noqa: E501
        },
        "t10k-images-idx3-ubyte.gz": {
            "gz": ("cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",),
            "payload": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",  # noqa: E501
        },
        "t10k-labels-idx1-ubyte.gz": {
            "gz": ("8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",),
            "payload": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",  # noqa: E501
        },
    },
    "mnist": {
        "train-images-idx3-ubyte.gz": {
            "gz": ("440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",),
            "payload": None,
        },
        "train-labels-idx1-ubyte.gz": {
            "gz": ("3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",),
            "payload": None,
        },
        "t10k-images-idx3-ubyte.gz": {
            "gz": ("8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",),
            "payload": None,
        },
        "t10k-labels-idx1-ubyte.gz": {
            "gz": ("f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",),
            "payload": None,
        },
    },
}

# Download addresses (those of Keras' own loaders for Fashion-MNIST, and the
# public mirror of the MNIST idx files) and Keras' cache folder names.
DOWNLOAD_URLS = {
    "fashion_mnist": "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
    "mnist": "https://storage.googleapis.com/cvdf-datasets/mnist/",
}
KERAS_CACHE_NAMES = {"fashion_mnist": "fashion-mnist", "mnist": "mnist"}
DEBIAN_NAMES = {"fashion_mnist": "fashion-mnist", "mnist": "mnist"}

FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


class DatasetNotFoundError(FileNotFoundError):
    """Raised when no copy of a dataset's files can be found or downloaded."""


class ChecksumError(ValueError):
    """Raised when a dataset file's SHA-256 differs from the published one."""


def _sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def sha256_file(path):
    """Return the hexadecimal SHA-256 digest of the file at `path`."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def keras_cache_dir(name):
    """Return the folder that Keras' loader caches `name`'s files in.

    It is `$KERAS_HOME/datasets/<name>` when `KERAS_HOME` is set, else
    `~/.keras/datasets/<name>`.
    """
    keras_home = os.environ.get("KERAS_HOME") or os.path.join(
        os.path.expanduser("~"), ".keras"
    )
    return Path(keras_home) / "datasets" / KERAS_CACHE_NAMES[name]


def candidate_dirs(name, data_dir=None):
    """List the folders searched for `name`'s idx files, in search order."""
    folders = []
    if data_dir is not None:
        folders.append(Path(data_dir))
    folders += [
        PROJECT_DATA_DIR / name,
        keras_cache_dir(name),
        DEBIAN_DATA_DIR / DEBIAN_NAMES[name],
    ]
    return folders


def verify_file(name, path, file_name=None):
    """Check a dataset file's SHA-256 and return its decompressed bytes.

    Args:
        name: `"fashion_mnist"` or `"mnist"`.
        path: Path of one of the four `.gz` idx files.
        file_name: Published name of the file, for a `path` with another
            name (a download in progress). Defaults to the name of `path`.

    Returns:
        The decompressed idx bytes.

    Raises:
        ChecksumError: If the file is not a complete gzip file, or neither
            the `.gz` digest nor the digest of the decompressed bytes
            matches the published files.
    """
    path = Path(path)
    file_name = file_name or path.name
    expected = CHECKSUMS[name][file_name]
    gz_digest = sha256_file(path)
    try:
        with gzip.open(path, "rb") as file:
            payload = file.read()
    except (OSError, EOFError, zlib.error):
        # A truncated or damaged .gz file matches no published digest.
        payload = None
    if payload is not None:
        if gz_digest in expected["gz"]:
            return payload
        payload_digest = _sha256_bytes(payload)
        if expected["payload"] is not None and payload_digest == expected["payload"]:
            return payload
    damage = " It is not a complete gzip file." if payload is None else ""
    raise ChecksumError(
        f"The SHA-256 of {path} does not match the published {name} file "
        f"{file_name}. Expected {expected['gz'][0]} (or decompressed "
        f"{expected['payload']}); received {gz_digest}.{damage} The file is "
        "damaged or is another dataset; delete it and load again."
    )


def _parse_idx(payload, path):
    magic = int.from_bytes(payload[0:4], "big")
    if magic == 2051:
        count, rows, cols = (
            int.from_bytes(payload[i : i + 4], "big") for i in (4, 8, 12)
        )
        return np.frombuffer(payload, np.uint8, offset=16).reshape(count, rows, cols)
    if magic == 2049:
        return np.frombuffer(payload, np.uint8, offset=8).astype(np.int64)
    raise ValueError(f"{path} is not an idx file (magic number {magic}).")


def _download(url, destination, name):
    """Download `url` to `destination` through a temporary file.

    The file only appears under its final name once its SHA-256 matches
    `name`'s published file, so an interrupted or damaged download leaves
    nothing behind that a later run would trust.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=destination.parent, suffix=".part")
    try:
        with os.fdopen(handle, "wb") as file:
            with urllib.request.urlopen(
                url, timeout=DOWNLOAD_TIMEOUT_SECONDS
            ) as response:
                shutil.copyfileobj(response, file)
        # A connection that closes early can end the copy without an error,
        # so the checksum decides whether the download is complete.
        verify_file(name, temporary, file_name=destination.name)
        os.replace(temporary, destination)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def _find_files(name, split, data_dir, download):
    tried = []
    for folder in candidate_dirs(name, data_dir):
        paths = [folder / file_name for file_name in FILE_NAMES[split]]
        if all(path.is_file() for path in paths):
            return paths
        tried.append(f"{folder} (not found)")
    if download:
        folder = keras_cache_dir(name)
        try:
            paths = []
            for file_name in FILE_NAMES[split]:
                path = folder / file_name
                if not path.is_file():
                    _download(DOWNLOAD_URLS[name] + file_name, path, name)
                paths.append(path)
            return paths
        except (
            urllib.error.URLError,
            http.client.HTTPException,
            OSError,  # Includes TimeoutError, which a stalled transfer raises.
            ChecksumError,
        ) as error:
            tried.append(f"download from {DOWNLOAD_URLS[name]} (failed: {error})")
    else:
        tried.append("download (switched off with download=False)")
    places = "\n  ".join(tried)
    raise DatasetNotFoundError(
        f"Could not find the {name} {split} files {list(FILE_NAMES[split])}. "
        f"Tried, in order:\n  {places}\n"
        "To fix it, either connect to the internet once so that the files are "
        f"downloaded into {keras_cache_dir(name)}, or install Debian's package "
        f"(`sudo apt-get install dataset-{DEBIAN_NAMES[name]}`), or copy the four "
        f"idx .gz files into {PROJECT_DATA_DIR / name}."
    )


def load_dataset(name, split="train", data_dir=None, download=True):
    """Load Fashion-MNIST or MNIST as images in [-1, 1] and integer labels.

    The original idx `.gz` files are looked for in this order: `data_dir`,
    the project's `data/<name>/` folder, Keras' cache (`$KERAS_HOME` or
    `~/.keras/datasets/<name>/`), Debian's `/usr/share/datasets/<name>/`,
    and only then downloaded into Keras' cache. Each file's SHA-256 is
    checked before use.

    Args:
        name: `"fashion_mnist"` or `"mnist"`.
        split: `"train"` (60,000 images) or `"test"` (10,000 images).
        data_dir: Optional folder to look in first.
        download: Whether to try a download when no local copy is found.

    Returns:
        A tuple `(images, labels)`: float32 `(n, 28, 28, 1)` in [-1, 1] and
        int64 `(n,)` in 0..9.

    Raises:
        ValueError: For an unknown `name` or `split`.
        DatasetNotFoundError: If no copy is found and the download fails; the
            message lists every place tried and how to fix it.
        ChecksumError: If a file found differs from the published one.
    """
    if name not in CHECKSUMS:
        raise ValueError(
            f"Unknown dataset. Expected one of {sorted(CHECKSUMS)}. "
            f"Received: name={name!r}"
        )
    if split not in FILE_NAMES:
        raise ValueError(
            f"Unknown split. Expected 'train' or 'test'. Received: split={split!r}"
        )
    image_path, label_path = _find_files(name, split, data_dir, download)
    pixels = _parse_idx(verify_file(name, image_path), image_path)
    labels = _parse_idx(verify_file(name, label_path), label_path)
    if len(pixels) != len(labels):
        raise ValueError(
            f"{image_path} has {len(pixels)} images but {label_path} has "
            f"{len(labels)} labels."
        )
    return scale_images(pixels), labels


def scale_images(pixels):
    """Scale uint8 pixels in [0, 255] to float32 in [-1, 1] and add a channel.

    Args:
        pixels: Array `(n, height, width)` or `(n, height, width, channels)`
            with values in [0, 255].

    Returns:
        float32 array `(n, height, width, channels)` in [-1, 1].
    """
    images = np.asarray(pixels, dtype=np.float32)
    if images.ndim == 3:
        images = images[..., np.newaxis]
    return images / 127.5 - 1.0


def check_image_range(images, name="images"):
    """Raise a `ValueError` unless `images` lie in [-1, 1].

    Args:
        images: Array of any shape.
        name: Name used in the message.

    Raises:
        ValueError: If any value is outside [-1, 1] or not finite; the
            message gives the range found and how to scale it.
    """
    images = np.asarray(images)
    if images.size == 0:
        raise ValueError(f"{name} is empty. Received shape {images.shape}.")
    low, high = float(np.min(images)), float(np.max(images))
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ValueError(f"{name} contain NaN or infinite values.")
    if low < -1.0 - 1e-6 or high > 1.0 + 1e-6:
        hint = (
            "They look like raw pixels in [0, 255]: use images / 127.5 - 1 "
            "(or ganutils.data.scale_images)."
            if high > 1.0 + 1e-6 and low >= 0.0
            else "Rescale them linearly so that the minimum is -1 and the maximum 1."
        )
        raise ValueError(
            f"{name} must be in [-1, 1], the range of the generator's tanh "
            f"output. Received values in [{low:g}, {high:g}]. {hint}"
        )


def make_dataset(
    images, batch_size, labels=None, shuffle=True, seed=None, prefetch=True
):
    """Build a `tf.data.Dataset` of training batches for `GAN.fit`.

    The pipeline shuffles (a new order each epoch), batches, drops the last
    partial batch, so every batch has the same static shape and `fit` traces
    its step once, and prefetches.

    Args:
        images: float32 array `(n, height, width, channels)` in [-1, 1].
        batch_size: Images per batch, between 1 and n.
        labels: Optional int array `(n,)`; batches are then `(images, labels)`.
        shuffle: Shuffle the whole set before each epoch.
        seed: Seed of the shuffle order.
        prefetch: Prepare the next batch while the current one trains.

    Returns:
        A `tf.data.Dataset` of `n // batch_size` batches per epoch.

    Raises:
        ValueError: If the images are not 4-D, lie outside [-1, 1], or
            `batch_size` is not in [1, n].
    """
    import tensorflow as tf

    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(
            "images must have shape (n, height, width, channels). Received "
            f"shape {images.shape}. Add a channel axis with images[..., None]."
        )
    check_image_range(images)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise ValueError(
            f"batch_size must be an int. Received: batch_size={batch_size!r}"
        )
    if not 1 <= batch_size <= len(images):
        raise ValueError(
            f"batch_size must be between 1 and the number of images ({len(images)}). "
            f"Received: batch_size={batch_size}"
        )
    images = images.astype(np.float32, copy=False)
    if labels is None:
        dataset = tf.data.Dataset.from_tensor_slices(images)
    else:
        labels = np.asarray(labels)
        if len(labels) != len(images):
            raise ValueError(
                f"images and labels differ in length: {len(images)} and {len(labels)}."
            )
        dataset = tf.data.Dataset.from_tensor_slices((images, labels))
    if shuffle:
        dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size, drop_remainder=True)
    if prefetch:
        dataset = dataset.prefetch(tf.data.AUTOTUNE)
    return dataset


def load_image_folder(path, image_size, channels=3):
    """Load every image in a folder (and its sub-folders) for GAN training.

    Args:
        path: Folder of `.png`, `.jpg`, `.jpeg`, `.bmp` or `.gif` files.
        image_size: Side of the square output images, in pixels; images are
            resized (with their aspect ratio changed if needed).
        channels: 1 for grayscale, 3 for RGB.

    Returns:
        float32 array `(n, image_size, image_size, channels)` in [-1, 1].

    Raises:
        FileNotFoundError: If `path` is not a folder.
        ValueError: If it contains no image files, or a file can't be read.
    """
    import tensorflow as tf

    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"Image folder not found: {folder}")
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3. Received: channels={channels}")
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
    )
    if not files:
        raise ValueError(
            f"No image files found in {folder}. Accepted extensions: "
            f"{', '.join(IMAGE_EXTENSIONS)} (in the folder or its sub-folders)."
        )
    images = []
    for file in files:
        try:
            image = tf.io.decode_image(
                tf.io.read_file(str(file)), channels=channels, expand_animations=False
            )
        except tf.errors.InvalidArgumentError as error:
            raise ValueError(
                f"Could not read {file} as an image: {error.message}. Remove or "
                "replace the file."
            ) from None
        image = tf.image.resize(image, (image_size, image_size), antialias=True)
        images.append(image.numpy())
    pixels = np.clip(np.stack(images), 0.0, 255.0)
    return (pixels / 127.5 - 1.0).astype(np.float32)
