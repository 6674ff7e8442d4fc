"""Image grids, training curves, per-epoch sample grids and GIFs.

Every function here takes images as the generator makes them: NHWC arrays
with values in [-1, 1]. They become uint8 pixels through
`(x + 1) * 127.5`, clipped to [0, 255] and rounded, so -1 is black and 1 is
white.
"""

import csv
import time
from pathlib import Path

import keras
import numpy as np
from keras import ops
from PIL import Image

from ganutils.data import check_image_range

LOSS_KEYS = ("d_loss", "g_loss")
D_OUTPUT_KEYS = ("d_real", "d_fake")


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_ncols(ncols):
    if not _is_int(ncols) or ncols < 1:
        raise ValueError(f"ncols must be a positive int. Received: ncols={ncols!r}")


def to_uint8(images):
    """Convert images in [-1, 1] to uint8 pixels in [0, 255].

    Values are mapped with `(x + 1) * 127.5`, clipped and rounded, so a value
    a little below -1 becomes 0 and never wraps around to 255.

    Args:
        images: Array of any shape with values in [-1, 1].

    Returns:
        uint8 array of the same shape.

    Raises:
        ValueError: If any value is outside [-1, 1] or not finite.
    """
    images = np.asarray(images, dtype=np.float32)
    check_image_range(images)
    pixels = np.clip((images + 1.0) * 127.5, 0.0, 255.0)
    return np.rint(pixels).astype(np.uint8)


def image_grid(images, ncols=8, padding=0, pad_value=0):
    """Tile a batch of images into one image, row by row.

    Args:
        images: Array `(n, height, width, channels)` or `(n, height, width)`
            with values in [-1, 1].
        ncols: Images per row. A batch smaller than `ncols` makes one row of
            `n` images.
        padding: Pixels between neighbouring images and around the grid.
        pad_value: uint8 value, 0 to 255, of the padding and of the empty
            cells of a last row that is not full.

    Returns:
        uint8 array `(H, W, channels)` with
        `H = rows * (height + padding) + padding` and
        `W = ncols * (width + padding) + padding`, where
        `rows = ceil(n / ncols)`.

    Raises:
        ValueError: If `images` is not 3-D or 4-D, is empty, has values
            outside [-1, 1], or `ncols` is not a positive int.
    """
    _check_ncols(ncols)
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., np.newaxis]
    if images.ndim != 4:
        raise ValueError(
            "images must have shape (n, height, width, channels) or "
            f"(n, height, width). Received: shape={images.shape}"
        )
    if not _is_int(padding) or padding < 0:
        raise ValueError(f"padding must be an int >= 0. Received: padding={padding!r}")
    if not 0 <= pad_value <= 255:
        raise ValueError(
            f"pad_value must be in [0, 255]. Received: pad_value={pad_value}"
        )
    pixels = to_uint8(images)

    n, height, width, channels = pixels.shape
    ncols = min(int(ncols), n)
    nrows = -(-n // ncols)
    grid = np.full(
        (
            nrows * (height + padding) + padding,
            ncols * (width + padding) + padding,
            channels,
        ),
        pad_value,
        dtype=np.uint8,
    )
    for index in range(n):
        row, col = divmod(index, ncols)
        top = padding + row * (height + padding)
        left = padding + col * (width + padding)
        grid[top : top + height, left : left + width] = pixels[index]
    return grid


def _to_pil(grid):
    if grid.ndim == 3 and grid.shape[-1] == 1:
        return Image.fromarray(grid[..., 0], mode="L")
    if grid.ndim == 3 and grid.shape[-1] in (3, 4):
        return Image.fromarray(grid)
    if grid.ndim == 2:
        return Image.fromarray(grid, mode="L")
    raise ValueError(
        f"Expected an image of 1, 3 or 4 channels. Received: shape={grid.shape}"
    )


def show_images(images, ncols=8, title=None, ax=None):
    """Draw a batch of images as one grid with matplotlib.

    Args:
        images: Array `(n, height, width, channels)` in [-1, 1]; one channel
            is drawn with the grayscale colour map, three as RGB.
        ncols: Images per row.
        title: Optional title above the grid.
        ax: Axes to draw into; by default a new figure is made.

    Returns:
        The `matplotlib.figure.Figure` that contains the grid.
    """
    import matplotlib.pyplot as plt

    grid = image_grid(images, ncols=ncols, padding=1, pad_value=255)
    if ax is None:
        height, width = grid.shape[:2]
        scale = 6.0 / max(height, width)
        figure, ax = plt.subplots(figsize=(width * scale, height * scale))
    else:
        figure = ax.figure
    if grid.shape[-1] == 1:
        ax.imshow(grid[..., 0], cmap="gray", vmin=0, vmax=255)
    else:
        ax.imshow(grid)
    ax.set_axis_off()
    if title is not None:
        ax.set_title(title)
    return figure


def save_image_grid(images, path, ncols=8, padding=0, pad_value=0):
    """Save a batch of images as one PNG grid.

    Args:
        images: Array `(n, height, width, channels)` in [-1, 1].
        path: Output file; its parent folders are created if needed.
        ncols: Images per row.
        padding: Pixels between neighbouring images and around the grid.
        pad_value: uint8 value of the padding, 0 (black) to 255 (white).

    Returns:
        The `pathlib.Path` written.
    """
    path = Path(path)
    grid = image_grid(images, ncols=ncols, padding=padding, pad_value=pad_value)
    path.parent.mkdir(parents=True, exist_ok=True)
    _to_pil(grid).save(path, format="PNG")
    return path


class HistoryCSVLogger(keras.callbacks.Callback):
    """Append one CSV row of metrics per epoch, written as the epoch ends.

    Unlike `keras.callbacks.CSVLogger` in Keras 3, it adds no empty `val_*`
    columns when `fit` has no validation data. The columns are `epoch`
    (numbered from 1, like the sample grids), `seconds` (wall time of the
    epoch) and the metrics in the order `fit` reports them. A file from an
    earlier run is replaced when training starts.

    Args:
        path: CSV file to write; its parent folder must exist.
    """

    def __init__(self, path):
        super().__init__()
        self.path = Path(path)
        self._columns = None
        self._epoch_start = None

    def on_train_begin(self, logs=None):
        self._columns = None
        self.path.write_text("")

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        seconds = time.perf_counter() - self._epoch_start
        with open(self.path, "a", newline="") as file:
            writer = csv.writer(file)
            if self._columns is None:
                self._columns = list(logs)
                writer.writerow(["epoch", "seconds", *self._columns])
            values = [f"{float(logs[name]):.6g}" for name in self._columns]
            writer.writerow([epoch + 1, f"{seconds:.2f}", *values])


def load_history_csv(path):
    """Read a history CSV into the form of `History.history`.

    It reads the files of `HistoryCSVLogger` and of `keras.callbacks.CSVLogger`.
    The `epoch` and `seconds` columns are left out, and so are columns that
    contain only `NA` (the empty `val_*` columns of Keras' `CSVLogger`).

    Args:
        path: CSV file with a header row and one row per epoch.

    Returns:
        A dict from metric name to a list of floats, one per epoch.

    Raises:
        ValueError: If the file has no rows.
    """
    with open(path, newline="") as file:
        rows = list(csv.DictReader(file))
    if not rows:
        raise ValueError(f"The history file {path} contains no epochs.")
    history = {}
    for name in rows[0]:
        if name in ("epoch", "seconds"):
            continue
        values = [row[name] for row in rows]
        if all(value in ("NA", "") for value in values):
            continue
        history[name] = [float("nan") if v in ("NA", "") else float(v) for v in values]
    return history


def plot_history(history, axes=None):
    """Plot the losses and the discriminator's outputs per epoch.

    The left panel shows `d_loss` and `g_loss`. The right panel shows
    `d_real` (mean D(x) on real images) and `d_fake` (mean D(G(z)) on
    generated ones) as probabilities in [0, 1], with a dashed line at 0.5,
    where a discriminator that cannot tell the two apart would sit.

    Args:
        history: A `keras.callbacks.History` (what `fit` returns) or its
            `history` dict, for example from `load_history_csv`.
        axes: Two matplotlib axes to draw into; by default a new figure with
            two panels side by side is made.

    Returns:
        The `matplotlib.figure.Figure` that contains the two panels.

    Raises:
        TypeError: If `history` is neither a History nor a dict.
        ValueError: If a metric is missing, or `axes` is not two axes.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    if isinstance(history, keras.callbacks.History):
        history = history.history
    if not isinstance(history, dict):
        raise TypeError(
            "history must be a keras.callbacks.History or a dict of lists. "
            f"Received: history of type {type(history).__name__}"
        )
    missing = [key for key in LOSS_KEYS + D_OUTPUT_KEYS if key not in history]
    if missing:
        raise ValueError(
            f"history is missing the metrics {missing}. Expected the keys "
            f"{list(LOSS_KEYS + D_OUTPUT_KEYS)}, as GAN.fit reports them. "
            f"Received keys: {sorted(history)}"
        )
    if axes is None:
        figure, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    elif len(axes) != 2:
        raise ValueError(f"axes must be two matplotlib axes. Received {len(axes)}.")
    else:
        figure = axes[0].figure

    loss_ax, output_ax = axes
    epochs = np.arange(1, len(history["d_loss"]) + 1)
    marker = "o" if len(epochs) <= 30 else None
    for key in LOSS_KEYS:
        loss_ax.plot(epochs, history[key], marker=marker, label=key)
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("loss")
    loss_ax.set_title("Losses")
    loss_ax.legend()

    for key in D_OUTPUT_KEYS:
        output_ax.plot(epochs, history[key], marker=marker, label=key)
    output_ax.axhline(0.5, color="gray", linestyle="--", linewidth=1)
    output_ax.set_ylim(0.0, 1.0)
    output_ax.set_xlabel("epoch")
    output_ax.set_ylabel("mean D output (probability)")
    output_ax.set_title("Discriminator outputs")
    output_ax.legend()
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    figure.tight_layout()
    return figure


class SampleGridCallback(keras.callbacks.Callback):
    """Draw a grid of samples from one fixed latent batch after every epoch.

    The latent vectors are drawn once, from `seed`, the first time training
    starts, and reused at every epoch end (and in later `fit` calls), so the
    grids of successive epochs show how the same z evolves. They come from
    `numpy.random.default_rng(seed).standard_normal`, as in `GAN.generate`,
    so `gan.generate(num_images, seed=seed)` draws the same images. The
    generator runs with `training=False`, which leaves its batch-normalization
    statistics unchanged; when the GAN keeps a moving-average generator
    (`ema_decay`), that one is drawn from.

    Args:
        num_images: Images per grid.
        seed: Integer seed of the latent batch.
        out_dir: Folder for `epoch_001.png`, `epoch_002.png`, ... (numbered
            from 1, as Keras numbers epochs). `None` keeps the grids in
            memory only.
        ncols: Images per row.
        padding: Pixels between neighbouring images in each grid.
        pad_value: uint8 value of the padding, 0 (black) to 255 (white).
        labels: Integer class labels `(num_images,)` for a conditional GAN.
            By default they cycle through the classes 0, 1, ...

    Attributes:
        latent_vectors: The fixed batch, float32 `(num_images, latent_dim)`,
            or `None` before training starts.
        grids: One uint8 grid `(H, W, channels)` per epoch, in order.
        paths: The files written, in order.
    """

    def __init__(
        self,
        num_images=64,
        seed=0,
        out_dir=None,
        ncols=8,
        padding=0,
        pad_value=0,
        labels=None,
    ):
        super().__init__()
        if not _is_int(num_images) or num_images < 1:
            raise ValueError(
                "num_images must be a positive int. Received: "
                f"num_images={num_images!r}"
            )
        _check_ncols(ncols)
        self.num_images = int(num_images)
        self.seed = seed
        self.out_dir = None if out_dir is None else Path(out_dir)
        self.ncols = ncols
        self.padding = padding
        self.pad_value = pad_value
        self.labels = None if labels is None else np.asarray(labels, dtype="int32")
        self.latent_vectors = None
        self.grids = []
        self.paths = []

    def _sampling_generator(self):
        ema_generator = getattr(self.model, "ema_generator", None)
        if ema_generator is not None:
            return ema_generator
        return self.model.generator

    def on_train_begin(self, logs=None):
        if self.latent_vectors is None:
            rng = np.random.default_rng(self.seed)
            shape = (self.num_images, self.model.latent_dim)
            self.latent_vectors = rng.standard_normal(shape).astype("float32")
        num_classes = getattr(self.model, "num_classes", None)
        if num_classes is not None and self.labels is None:
            self.labels = (np.arange(self.num_images) % num_classes).astype("int32")
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)

    def on_epoch_end(self, epoch, logs=None):
        inputs = self.latent_vectors
        if getattr(self.model, "num_classes", None) is not None:
            inputs = [self.latent_vectors, self.labels]
        generated_images = self._sampling_generator()(inputs, training=False)
        grid = image_grid(
            ops.convert_to_numpy(generated_images),
            ncols=self.ncols,
            padding=self.padding,
            pad_value=self.pad_value,
        )
        self.grids.append(grid)
        if self.out_dir is not None:
            path = self.out_dir / f"epoch_{epoch + 1:03d}.png"
            _to_pil(grid).save(path, format="PNG")
            self.paths.append(path)


def _frame_to_pil(frame):
    if isinstance(frame, (str, Path)):
        with Image.open(frame) as image:
            image.load()
            return image.copy()
    frame = np.asarray(frame)
    if frame.dtype != np.uint8:
        raise TypeError(
            "Frames given as arrays must be uint8 grids, as image_grid returns. "
            f"Received: dtype={frame.dtype}"
        )
    return _to_pil(frame)


def make_gif(frames, out_path, duration_ms=300, loop=0):
    """Write an animated GIF, for example of the per-epoch sample grids.

    Args:
        frames: A folder (its `*.png` files in name order, such as the
            `epoch_NNN.png` files of `SampleGridCallback`), a sequence of
            image paths, or a sequence of uint8 arrays `(H, W)` or
            `(H, W, channels)` such as `SampleGridCallback.grids`.
        out_path: Output `.gif` file; its parent folders are created.
        duration_ms: Display time of each frame, in milliseconds.
        loop: Number of times to play; 0 loops forever.

    Returns:
        The `pathlib.Path` written.

    Raises:
        ValueError: If there are no frames, a folder has no PNG files, or
            `duration_ms` is not positive.
        TypeError: If an array frame is not uint8.

    NOTE: Pillow merges consecutive identical frames into one longer frame,
    so the file can hold fewer frames than were passed.
    """
    if duration_ms <= 0:
        raise ValueError(
            f"duration_ms must be > 0. Received: duration_ms={duration_ms}"
        )
    if isinstance(frames, (str, Path)):
        folder = Path(frames)
        if not folder.is_dir():
            raise ValueError(f"Frame folder not found: {folder}")
        frames = sorted(folder.glob("*.png"))
        if not frames:
            raise ValueError(f"No .png files found in {folder}.")
    frames = list(frames)
    if not frames:
        raise ValueError("frames is empty. Expected at least one frame.")
    images = [_frame_to_pil(frame) for frame in frames]
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(
        out_path,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=duration_ms,
        loop=loop,
    )
    return out_path
