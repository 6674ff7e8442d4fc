"""Tests of ganutils.plotting: grids, history plots, sample callback, GIFs."""

import matplotlib

matplotlib.use("Agg")

import keras  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from ganutils import plotting  # noqa: E402
from ganutils.gan import GAN  # noqa: E402
from ganutils.models import build_models  # noqa: E402

LATENT_DIM = 4
IMAGE_SHAPE = (8, 8, 1)


def make_images(n, shape=IMAGE_SHAPE, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1.0, 1.0, (n, *shape)).astype("float32")


def make_gan(ema_decay=None):
    generator, discriminator = build_models("mlp", LATENT_DIM, IMAGE_SHAPE)
    gan = GAN(generator, discriminator, LATENT_DIM, ema_decay=ema_decay, seed=0)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(1e-3),
        g_optimizer=keras.optimizers.Adam(1e-3),
    )
    return gan


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.mark.parametrize(
    ("n", "ncols", "padding", "expected_shape"),
    [
        (16, 8, 0, (16, 64, 1)),
        (10, 4, 0, (24, 32, 1)),
        (10, 4, 2, (3 * 10 + 2, 4 * 10 + 2, 1)),
        (3, 8, 0, (8, 24, 1)),
    ],
)
def test_image_grid_shape(n, ncols, padding, expected_shape):
    grid = plotting.image_grid(make_images(n), ncols=ncols, padding=padding)
    assert grid.shape == expected_shape
    assert grid.dtype == np.uint8


def test_image_grid_rgb_keeps_channels():
    grid = plotting.image_grid(make_images(4, shape=(5, 6, 3)), ncols=2)
    assert grid.shape == (10, 12, 3)


def test_image_grid_accepts_three_dimensional_batch():
    grid = plotting.image_grid(make_images(4)[..., 0], ncols=2)
    assert grid.shape == (16, 16, 1)


def test_image_grid_value_mapping():
    values = np.array([-1.0, -0.5, 0.0, 0.5, 1.0], dtype="float32")
    images = np.broadcast_to(values[:, None, None, None], (5, 2, 2, 1))
    grid = plotting.image_grid(images, ncols=5)
    assert grid[0, 0::2, 0].tolist() == [0, 64, 128, 191, 255]


def test_image_grid_no_wrap_around():
    # Values a rounding error below -1 pass the range check; they must
    # become 0, not wrap around to 255 as a bare uint8 cast would do.
    images = np.full((1, 2, 2, 1), -1.0 - 5e-7, dtype="float32")
    images[0, 0, 0, 0] = 1.0 + 5e-7
    grid = plotting.image_grid(images)
    assert grid[1, 1, 0] == 0
    assert grid[0, 0, 0] == 255


def test_image_grid_places_images_row_by_row():
    images = np.full((3, 2, 2, 1), -1.0, dtype="float32")
    images[1] = 1.0
    grid = plotting.image_grid(images, ncols=2)
    assert (grid[0:2, 2:4] == 255).all()
    assert (grid[0:2, 0:2] == 0).all()
    assert (grid[2:4, 0:2] == 0).all()


def test_image_grid_pads_with_pad_value():
    images = np.ones((3, 2, 2, 1), dtype="float32")
    grid = plotting.image_grid(images, ncols=2, padding=1, pad_value=7)
    assert grid[0, 0, 0] == 7
    assert grid[1, 1, 0] == 255
    # The fourth cell of the 2 x 2 grid is empty.
    assert (grid[4:6, 4:6] == 7).all()


@pytest.mark.parametrize("bad_value", [1.5, -2.0, 255.0, np.nan])
def test_image_grid_out_of_range_raises(bad_value):
    images = make_images(2)
    images[0, 0, 0, 0] = bad_value
    with pytest.raises(ValueError, match=r"\[-1, 1\]|NaN"):
        plotting.image_grid(images)


@pytest.mark.parametrize("ncols", [0, -1, 2.5, True])
def test_image_grid_bad_ncols_raises(ncols):
    with pytest.raises(ValueError, match="ncols"):
        plotting.image_grid(make_images(2), ncols=ncols)


def test_image_grid_bad_rank_raises():
    with pytest.raises(ValueError, match="Received: shape"):
        plotting.image_grid(np.zeros((2, 2), dtype="float32"))


def test_save_image_grid_writes_grayscale_png(tmp_path):
    path = plotting.save_image_grid(
        make_images(10), tmp_path / "a" / "grid.png", ncols=5
    )
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.mode == "L"
        assert image.size == (5 * 8, 2 * 8)
        pixels = np.asarray(image)
    expected = plotting.image_grid(make_images(10), ncols=5)[..., 0]
    np.testing.assert_array_equal(pixels, expected)


def test_show_images_grayscale_figure():
    figure = plotting.show_images(make_images(6), ncols=3, title="samples")
    assert isinstance(figure, matplotlib.figure.Figure)
    ax = figure.axes[0]
    assert ax.get_title() == "samples"
    assert ax.images[0].get_cmap().name == "gray"


def test_show_images_draws_into_given_axes():
    figure, axes = plt.subplots(1, 2)
    returned = plotting.show_images(make_images(4, shape=(4, 4, 3)), ax=axes[1])
    assert returned is figure
    assert len(axes[1].images) == 1
    assert len(axes[0].images) == 0


HISTORY = {
    "d_loss": [1.3, 1.2, 1.1],
    "g_loss": [0.7, 0.8, 0.9],
    "d_real": [0.55, 0.6, 0.62],
    "d_fake": [0.45, 0.4, 0.38],
}


def test_plot_history_panels():
    figure = plotting.plot_history(HISTORY)
    loss_ax, output_ax = figure.axes
    assert [line.get_label() for line in loss_ax.lines] == ["d_loss", "g_loss"]
    np.testing.assert_allclose(loss_ax.lines[1].get_ydata(), HISTORY["g_loss"])
    labels = [line.get_label() for line in output_ax.lines]
    assert labels[:2] == ["d_real", "d_fake"]
    assert output_ax.get_ylim() == (0.0, 1.0)
    # The dashed reference line at 0.5.
    assert any(np.allclose(line.get_ydata(), 0.5) for line in output_ax.lines[2:])


def test_plot_history_accepts_keras_history():
    history = keras.callbacks.History()
    history.history = HISTORY
    figure = plotting.plot_history(history)
    assert len(figure.axes) == 2


def test_plot_history_missing_metric_raises():
    with pytest.raises(ValueError, match="d_real"):
        plotting.plot_history({"d_loss": [1.0], "g_loss": [1.0], "d_fake": [0.5]})


def test_plot_history_wrong_type_raises():
    with pytest.raises(TypeError, match="History"):
        plotting.plot_history([1.0, 2.0])


def test_history_csv_logger_round_trip(tmp_path):
    path = tmp_path / "history.csv"
    logger = plotting.HistoryCSVLogger(path)
    logger.on_train_begin()
    for epoch in range(3):
        logger.on_epoch_begin(epoch)
        logs = {name: values[epoch] for name, values in HISTORY.items()}
        logger.on_epoch_end(epoch, logs)
    header = path.read_text().splitlines()[0]
    assert header == "epoch,seconds,d_loss,g_loss,d_real,d_fake"
    assert plotting.load_history_csv(path) == HISTORY


def test_load_history_csv_skips_empty_keras_columns(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text("epoch,d_loss,val_d_loss\n0,1.5,NA\n1,1.25,NA\n")
    assert plotting.load_history_csv(path) == {"d_loss": [1.5, 1.25]}


def test_sample_grid_callback_one_file_per_epoch(tmp_path):
    gan = make_gan()
    callback = plotting.SampleGridCallback(
        num_images=6, seed=3, out_dir=tmp_path, ncols=3
    )
    gan.fit(make_images(32), batch_size=16, epochs=3, verbose=0, callbacks=[callback])

    names = sorted(path.name for path in tmp_path.iterdir())
    assert names == ["epoch_001.png", "epoch_002.png", "epoch_003.png"]
    assert len(callback.grids) == 3
    assert callback.grids[0].shape == (16, 24, 1)
    with Image.open(tmp_path / "epoch_003.png") as image:
        np.testing.assert_array_equal(np.asarray(image), callback.grids[2][..., 0])


def test_sample_grid_callback_keeps_fixed_latent_batch():
    gan = make_gan()
    callback = plotting.SampleGridCallback(num_images=5, seed=7)
    gan.fit(make_images(32), batch_size=16, epochs=1, verbose=0, callbacks=[callback])
    first_batch = callback.latent_vectors.copy()
    expected = np.random.default_rng(7).standard_normal((5, LATENT_DIM))
    np.testing.assert_allclose(first_batch, expected.astype("float32"))

    gan.fit(make_images(32), batch_size=16, epochs=2, verbose=0, callbacks=[callback])
    np.testing.assert_array_equal(callback.latent_vectors, first_batch)
    assert len(callback.grids) == 3
    # The grid of the last epoch comes from the fixed batch, in inference mode.
    generated_images = gan.generator(first_batch, training=False)
    expected_grid = plotting.image_grid(keras.ops.convert_to_numpy(generated_images))
    np.testing.assert_array_equal(callback.grids[-1], expected_grid)


def test_sample_grid_callback_matches_generate():
    gan = make_gan()
    callback = plotting.SampleGridCallback(num_images=4, seed=11)
    gan.fit(make_images(32), batch_size=16, epochs=1, verbose=0, callbacks=[callback])
    expected_grid = plotting.image_grid(gan.generate(4, seed=11))
    np.testing.assert_array_equal(callback.grids[-1], expected_grid)


def test_sample_grid_callback_uses_ema_generator():
    gan = make_gan(ema_decay=0.9)
    callback = plotting.SampleGridCallback(num_images=4, seed=0)
    gan.fit(make_images(32), batch_size=16, epochs=2, verbose=0, callbacks=[callback])
    latent_vectors = callback.latent_vectors
    ema_images = keras.ops.convert_to_numpy(gan.ema_generator(latent_vectors))
    raw_images = keras.ops.convert_to_numpy(gan.generator(latent_vectors))
    np.testing.assert_array_equal(callback.grids[-1], plotting.image_grid(ema_images))
    assert not np.array_equal(callback.grids[-1], plotting.image_grid(raw_images))


def test_sample_grid_callback_bad_num_images_raises():
    with pytest.raises(ValueError, match="num_images"):
        plotting.SampleGridCallback(num_images=0)


def distinct_frames(count):
    return [
        plotting.image_grid(np.full((4, 4, 4, 1), v)) for v in np.linspace(-1, 1, count)
    ]


def gif_frame_count(path):
    with Image.open(path) as image:
        return image.n_frames


def test_make_gif_from_arrays(tmp_path):
    path = plotting.make_gif(
        distinct_frames(4), tmp_path / "out" / "a.gif", duration_ms=50
    )
    assert path.is_file()
    assert gif_frame_count(path) == 4
    with Image.open(path) as image:
        assert image.info["duration"] == 50


def test_make_gif_from_folder_and_paths(tmp_path):
    frames_dir = tmp_path / "samples"
    frames_dir.mkdir()
    paths = []
    for index, frame in enumerate(distinct_frames(3)):
        paths.append(frames_dir / f"epoch_{index + 1:03d}.png")
        Image.fromarray(frame[..., 0]).save(paths[-1])
    assert gif_frame_count(plotting.make_gif(frames_dir, tmp_path / "dir.gif")) == 3
    assert gif_frame_count(plotting.make_gif(paths[:2], tmp_path / "paths.gif")) == 2


def test_make_gif_empty_raises(tmp_path):
    with pytest.raises(ValueError, match="empty"):
        plotting.make_gif([], tmp_path / "a.gif")
    with pytest.raises(ValueError, match="No .png files"):
        plotting.make_gif(tmp_path, tmp_path / "a.gif")


def test_make_gif_float_frames_raise(tmp_path):
    with pytest.raises(TypeError, match="uint8"):
        plotting.make_gif([np.zeros((4, 4), dtype="float32")], tmp_path / "a.gif")
