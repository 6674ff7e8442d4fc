"""Tests of ganutils.data: dataset search and download, pipelines, folders."""

import gzip
import http.server
import re
import shutil
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganutils import data

INSTALLED_DIR = data.DEBIAN_DATA_DIR / "fashion-mnist"
TEST_FILES = data.FILE_NAMES["test"]
ALL_FILES = data.FILE_NAMES["train"] + data.FILE_NAMES["test"]


def copy_files(file_names, folder):
    folder.mkdir(parents=True, exist_ok=True)
    for file_name in file_names:
        shutil.copyfile(INSTALLED_DIR / file_name, folder / file_name)
    return folder


def files_under(folder):
    return sorted(path for path in Path(folder).rglob("*") if path.is_file())


@pytest.fixture
def empty_locations(tmp_path, monkeypatch):
    """Point every place load_dataset searches at empty tmp folders.

    Returns the `data_dir` to pass to `load_dataset`, which is empty too.
    """
    monkeypatch.setattr(data, "PROJECT_DATA_DIR", tmp_path / "project")
    monkeypatch.setattr(data, "DEBIAN_DATA_DIR", tmp_path / "debian")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setattr(data, "DOWNLOAD_TIMEOUT_SECONDS", 1)
    return tmp_path / "data_dir"


class DatasetRequestHandler(http.server.BaseHTTPRequestHandler):
    """Serve the installed Fashion-MNIST files, damaged in the way the path says.

    `/<mode>/<file name>`, where mode is `good` (the whole file), `truncated`
    (the first half, with a matching Content-Length), `cut` (the first half,
    then the connection closes although Content-Length announced all of it),
    `hang` (headers, then no body until the client times out) or `missing`
    (HTTP 404).
    """

    def do_GET(self):
        mode, _, file_name = self.path.strip("/").partition("/")
        if mode == "missing" or file_name not in ALL_FILES:
            self.send_error(404)
            return
        content = (INSTALLED_DIR / file_name).read_bytes()
        half = content[: len(content) // 2]
        body = half if mode in ("truncated", "cut") else content
        announced_length = len(half) if mode == "truncated" else len(content)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(announced_length))
        self.end_headers()
        if mode == "hang":
            self.wfile.flush()
            time.sleep(3)
            return
        self.wfile.write(body)
        if mode == "cut":
            self.wfile.flush()
            self.close_connection = True

    def log_message(self, format, *args):
        # Keep the test output free of one access-log line per request.
        pass


@pytest.fixture
def dataset_server():
    """A local HTTP server on 127.0.0.1; yields its base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), DatasetRequestHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


# load_dataset on the installed files


def test_load_dataset_train_split(fashion_mnist_train):
    images, labels = fashion_mnist_train
    assert images.shape == (60_000, 28, 28, 1)
    assert images.dtype == np.float32
    assert labels.shape == (60_000,)
    assert labels.dtype == np.int64


def test_load_dataset_test_split(fashion_mnist_test):
    images, labels = fashion_mnist_test
    assert images.shape == (10_000, 28, 28, 1)
    assert images.dtype == np.float32
    assert labels.shape == (10_000,)
    assert labels.dtype == np.int64


@pytest.mark.parametrize("split", ["train", "test"])
def test_load_dataset_range_and_labels(split, fashion_mnist_train, fashion_mnist_test):
    images, labels = fashion_mnist_train if split == "train" else fashion_mnist_test
    assert images.min() == -1.0
    assert images.max() == 1.0
    assert set(np.unique(labels)) == set(range(10))


def test_load_dataset_pixel_scaling(fashion_mnist_test):
    # Every value is p / 127.5 - 1 for an integer pixel p in 0..255.
    images, _ = fashion_mnist_test
    pixels = (images.astype(np.float64) + 1.0) * 127.5
    assert np.allclose(pixels, np.rint(pixels), atol=1e-4)


def test_load_dataset_unknown_name():
    with pytest.raises(ValueError, match=r"Received: name='cifar10'"):
        data.load_dataset("cifar10")


def test_load_dataset_unknown_split():
    with pytest.raises(ValueError, match=r"Received: split='validation'"):
        data.load_dataset("fashion_mnist", "validation")


# Search order and checksums


def test_candidate_dirs_order(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    folders = data.candidate_dirs("fashion_mnist", data_dir=tmp_path / "mine")
    assert folders == [
        tmp_path / "mine",
        data.PROJECT_DATA_DIR / "fashion_mnist",
        tmp_path / "keras_home" / "datasets" / "fashion-mnist",
        data.DEBIAN_DATA_DIR / "fashion-mnist",
    ]


def test_keras_cache_dir_default_home(monkeypatch):
    monkeypatch.delenv("KERAS_HOME", raising=False)
    expected = Path.home() / ".keras" / "datasets" / "fashion-mnist"
    assert data.keras_cache_dir("fashion_mnist") == expected


def test_load_dataset_data_dir_searched_first(
    tmp_path, monkeypatch, fashion_mnist_test
):
    data_dir = copy_files(ALL_FILES, tmp_path / "mine")
    verified_paths = []
    original_verify_file = data.verify_file

    def recording_verify_file(name, path):
        verified_paths.append(Path(path))
        return original_verify_file(name, path)

    monkeypatch.setattr(data, "verify_file", recording_verify_file)
    images, labels = data.load_dataset("fashion_mnist", "test", data_dir=data_dir)
    assert verified_paths == [data_dir / file_name for file_name in TEST_FILES]
    assert np.array_equal(images, fashion_mnist_test[0])
    assert np.array_equal(labels, fashion_mnist_test[1])


def test_load_dataset_incomplete_data_dir_skipped(tmp_path, monkeypatch):
    # Only the labels file: the folder is passed over for the next one.
    data_dir = copy_files(TEST_FILES[1:], tmp_path / "mine")
    verified_paths = []
    original_verify_file = data.verify_file

    def recording_verify_file(name, path):
        verified_paths.append(Path(path))
        return original_verify_file(name, path)

    monkeypatch.setattr(data, "verify_file", recording_verify_file)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setattr(data, "PROJECT_DATA_DIR", tmp_path / "project")
    data.load_dataset("fashion_mnist", "test", data_dir=data_dir)
    assert [path.parent for path in verified_paths] == [INSTALLED_DIR, INSTALLED_DIR]


def test_load_dataset_recompressed_file_accepted(tmp_path):
    # Another gzip level changes the .gz bytes but not the idx payload.
    data_dir = copy_files(TEST_FILES, tmp_path / "mine")
    labels_path = data_dir / TEST_FILES[1]
    payload = gzip.decompress(labels_path.read_bytes())
    labels_path.write_bytes(gzip.compress(payload, compresslevel=1, mtime=0))
    _, labels = data.load_dataset("fashion_mnist", "test", data_dir=data_dir)
    assert labels.shape == (10_000,)


def _change_one_label(content):
    payload = bytearray(gzip.decompress(content))
    payload[-1] = (payload[-1] + 1) % 10
    return gzip.compress(bytes(payload), mtime=0)


def _flip_one_byte(content):
    damaged = bytearray(content)
    damaged[len(damaged) // 2] ^= 0xFF
    return bytes(damaged)


def _truncate(content):
    return content[: len(content) // 2]


def _not_gzip(content):
    return b"<html>Not found</html>"


@pytest.mark.parametrize(
    "tamper", [_change_one_label, _flip_one_byte, _truncate, _not_gzip]
)
def test_load_dataset_tampered_file_raises_checksum_error(tmp_path, tamper):
    data_dir = copy_files(TEST_FILES, tmp_path / "mine")
    labels_path = data_dir / TEST_FILES[1]
    labels_path.write_bytes(tamper(labels_path.read_bytes()))
    with pytest.raises(data.ChecksumError, match=re.escape(str(labels_path))):
        data.load_dataset("fashion_mnist", "test", data_dir=data_dir)


def test_verify_file_message_gives_expected_digest(tmp_path):
    data_dir = copy_files(TEST_FILES[1:], tmp_path / "mine")
    labels_path = data_dir / TEST_FILES[1]
    labels_path.write_bytes(_change_one_label(labels_path.read_bytes()))
    expected_digest = data.CHECKSUMS["fashion_mnist"][TEST_FILES[1]]["gz"][0]
    with pytest.raises(data.ChecksumError, match=expected_digest):
        data.verify_file("fashion_mnist", labels_path)


def test_checksum_error_is_value_error():
    assert issubclass(data.ChecksumError, ValueError)
    assert issubclass(data.DatasetNotFoundError, FileNotFoundError)


# Nothing found and the download fails


def _check_not_found_message(message, data_dir, tmp_path):
    keras_cache = tmp_path / "keras_home" / "datasets" / "fashion-mnist"
    for folder in (
        data_dir,
        tmp_path / "project" / "fashion_mnist",
        keras_cache,
        tmp_path / "debian" / "fashion-mnist",
    ):
        assert f"{folder} (not found)" in message
    assert "download from" in message
    assert "connect to the internet" in message
    assert str(keras_cache) in message
    assert "apt-get install dataset-fashion-mnist" in message


@pytest.mark.parametrize(
    "error",
    [
        urllib.error.URLError("Name or service not known"),
        TimeoutError("timed out"),
        ConnectionResetError("Connection reset by peer"),
    ],
    ids=["url_error", "timeout", "connection_reset"],
)
def test_load_dataset_download_fails(empty_locations, tmp_path, monkeypatch, error):
    def failing_urlopen(*args, **kwargs):
        raise error

    monkeypatch.setattr(urllib.request, "urlopen", failing_urlopen)
    with pytest.raises(data.DatasetNotFoundError) as excinfo:
        data.load_dataset("fashion_mnist", "test", data_dir=empty_locations)
    message = str(excinfo.value)
    _check_not_found_message(message, empty_locations, tmp_path)
    assert str(error) in message
    assert files_under(tmp_path) == []


def test_load_dataset_download_switched_off(empty_locations, tmp_path, monkeypatch):
    def unexpected_urlopen(*args, **kwargs):
        raise AssertionError("urlopen called with download=False")

    monkeypatch.setattr(urllib.request, "urlopen", unexpected_urlopen)
    with pytest.raises(data.DatasetNotFoundError, match=r"download=False"):
        data.load_dataset(
            "fashion_mnist", "test", data_dir=empty_locations, download=False
        )


@pytest.mark.parametrize("mode", ["truncated", "cut", "hang", "missing"])
def test_load_dataset_broken_server(
    empty_locations, tmp_path, monkeypatch, dataset_server, mode
):
    monkeypatch.setitem(
        data.DOWNLOAD_URLS, "fashion_mnist", f"{dataset_server}/{mode}/"
    )
    with pytest.raises(data.DatasetNotFoundError) as excinfo:
        data.load_dataset("fashion_mnist", "test", data_dir=empty_locations)
    _check_not_found_message(str(excinfo.value), empty_locations, tmp_path)
    assert f"{dataset_server}/{mode}/" in str(excinfo.value)
    assert files_under(tmp_path) == []


def test_load_dataset_download_into_keras_cache(
    empty_locations, tmp_path, monkeypatch, dataset_server, fashion_mnist_test
):
    monkeypatch.setitem(data.DOWNLOAD_URLS, "fashion_mnist", f"{dataset_server}/good/")
    images, labels = data.load_dataset(
        "fashion_mnist", "test", data_dir=empty_locations
    )
    keras_cache = tmp_path / "keras_home" / "datasets" / "fashion-mnist"
    assert files_under(tmp_path) == [
        keras_cache / file_name for file_name in sorted(TEST_FILES)
    ]
    assert np.array_equal(images, fashion_mnist_test[0])
    assert np.array_equal(labels, fashion_mnist_test[1])


# make_dataset


def uniform_images(rng, n, shape=(28, 28, 1)):
    return rng.uniform(-1.0, 1.0, (n, *shape)).astype(np.float32)


def test_make_dataset_static_batch_shape(rng):
    dataset = data.make_dataset(uniform_images(rng, 10), batch_size=4, seed=0)
    assert tuple(dataset.element_spec.shape) == (4, 28, 28, 1)
    assert dataset.element_spec.dtype.name == "float32"


def test_make_dataset_drops_remainder(rng):
    dataset = data.make_dataset(uniform_images(rng, 10), batch_size=4, seed=0)
    batches = list(dataset.as_numpy_iterator())
    assert len(batches) == 2
    assert [batch.shape for batch in batches] == [(4, 28, 28, 1), (4, 28, 28, 1)]


def test_make_dataset_without_shuffle_keeps_order(rng):
    images = uniform_images(rng, 8)
    dataset = data.make_dataset(images, batch_size=4, shuffle=False)
    batches = list(dataset.as_numpy_iterator())
    assert np.array_equal(np.concatenate(batches), images)


def test_make_dataset_shuffle_covers_every_image_once(rng):
    images = uniform_images(rng, 12)
    dataset = data.make_dataset(images, batch_size=12, seed=3)
    (batch,) = list(dataset.as_numpy_iterator())
    assert not np.array_equal(batch, images)
    order = np.argsort(batch[:, 0, 0, 0])
    assert np.array_equal(batch[order], images[np.argsort(images[:, 0, 0, 0])])


def test_make_dataset_with_labels(rng):
    images = uniform_images(rng, 10)
    labels = np.arange(10)
    dataset = data.make_dataset(images, batch_size=5, labels=labels, shuffle=False)
    image_spec, label_spec = dataset.element_spec
    assert tuple(image_spec.shape) == (5, 28, 28, 1)
    assert tuple(label_spec.shape) == (5,)
    first_images, first_labels = next(iter(dataset.as_numpy_iterator()))
    assert np.array_equal(first_images, images[:5])
    assert np.array_equal(first_labels, labels[:5])


def test_make_dataset_labels_length_mismatch(rng):
    with pytest.raises(ValueError, match=r"10 and 9"):
        data.make_dataset(uniform_images(rng, 10), batch_size=5, labels=np.arange(9))


def test_make_dataset_raw_pixels_rejected(rng):
    pixels = rng.integers(0, 256, (10, 28, 28, 1)).astype(np.uint8)
    with pytest.raises(ValueError, match=r"images / 127\.5 - 1"):
        data.make_dataset(pixels, batch_size=5)


def test_make_dataset_raw_pixels_message_gives_range(rng):
    pixels = np.zeros((10, 28, 28, 1), np.float32)
    pixels[0, 0, 0, 0] = 255.0
    with pytest.raises(ValueError, match=r"Received values in \[0, 255\]"):
        data.make_dataset(pixels, batch_size=5)


def test_make_dataset_other_range_rejected(rng):
    images = uniform_images(rng, 10) * 3.0
    with pytest.raises(ValueError, match=r"Rescale them linearly"):
        data.make_dataset(images, batch_size=5)


def test_make_dataset_nan_rejected(rng):
    images = uniform_images(rng, 10)
    images[3, 1, 1, 0] = np.nan
    with pytest.raises(ValueError, match=r"NaN"):
        data.make_dataset(images, batch_size=5)


def test_make_dataset_three_dimensional_rejected(rng):
    with pytest.raises(ValueError, match=r"Received shape \(10, 28, 28\)"):
        data.make_dataset(uniform_images(rng, 10)[..., 0], batch_size=5)


@pytest.mark.parametrize("batch_size", [0, -1, 11])
def test_make_dataset_batch_size_out_of_range(rng, batch_size):
    with pytest.raises(ValueError, match=rf"Received: batch_size={batch_size}\b"):
        data.make_dataset(uniform_images(rng, 10), batch_size=batch_size)


@pytest.mark.parametrize("batch_size", [2.5, "4", True])
def test_make_dataset_batch_size_not_int(rng, batch_size):
    with pytest.raises(ValueError, match=r"batch_size must be an int"):
        data.make_dataset(uniform_images(rng, 10), batch_size=batch_size)


def test_scale_images_values():
    pixels = np.array([[[0, 127], [255, 51]]], np.uint8)
    images = data.scale_images(pixels)
    assert images.shape == (1, 2, 2, 1)
    assert images.dtype == np.float32
    assert images[0, 0, 0, 0] == -1.0
    assert images[0, 1, 0, 0] == 1.0
    assert images[0, 0, 1, 0] == pytest.approx(127 / 127.5 - 1.0)


# load_image_folder


def write_png(path, color, size=(20, 12), mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color).save(path)


def test_load_image_folder_reads_pngs(tmp_path):
    write_png(tmp_path / "a.png", (255, 255, 255))
    write_png(tmp_path / "nested" / "b.PNG", (0, 0, 0), size=(7, 30))
    (tmp_path / "notes.txt").write_text("not an image")
    images = data.load_image_folder(tmp_path, image_size=16)
    assert images.shape == (2, 16, 16, 3)
    assert images.dtype == np.float32
    # Sorted by path: a.png (white) first, then nested/b.PNG (black).
    assert np.allclose(images[0], 1.0)
    assert np.allclose(images[1], -1.0)


def test_load_image_folder_grayscale(tmp_path):
    write_png(tmp_path / "gray.png", (0, 0, 0))
    write_png(tmp_path / "l_mode.png", 255, mode="L")
    images = data.load_image_folder(tmp_path, image_size=8, channels=1)
    assert images.shape == (2, 8, 8, 1)
    assert images.min() >= -1.0
    assert images.max() <= 1.0


def test_load_image_folder_empty(tmp_path):
    (tmp_path / "readme.txt").write_text("no images here")
    with pytest.raises(
        ValueError, match=r"No image files found in .*Accepted extensions"
    ):
        data.load_image_folder(tmp_path, image_size=16)


def test_load_image_folder_unreadable_file(tmp_path):
    write_png(tmp_path / "good.png", (10, 20, 30))
    (tmp_path / "broken.png").write_bytes(b"this is not a PNG")
    with pytest.raises(ValueError, match=r"Could not read .*broken\.png"):
        data.load_image_folder(tmp_path, image_size=16)


def test_load_image_folder_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"Image folder not found"):
        data.load_image_folder(tmp_path / "absent", image_size=16)


def test_load_image_folder_bad_channels(tmp_path):
    write_png(tmp_path / "a.png", (1, 2, 3))
    with pytest.raises(ValueError, match=r"Received: channels=2"):
        data.load_image_folder(tmp_path, image_size=16, channels=2)
