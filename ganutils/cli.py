"""Command-line interface: `ganutils train` and `ganutils sample`.

`ganutils train` trains a GAN on Fashion-MNIST or MNIST and writes a run
folder; `ganutils sample` draws a grid of images from a saved generator.
Bad arguments end the program with one line on stderr and exit code 2.

TensorFlow is imported only by the commands that need it, so `--help` and
argument errors are reported at once. `ganutils/__init__.py` sets
`TF_CPP_MIN_LOG_LEVEL=3` unless the environment sets another level.
TF 2.21 writes about six INFO lines to stderr while it loads, before its
logging is set up and at any level, so `_import_tensorflow_quietly` keeps
them back.
"""

import argparse
import json
import os
import sys
import tempfile
import time
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

# Defaults of `ganutils train`. With them, a DCGAN draws recognisable
# Fashion-MNIST garments after 15 epochs on the 60,000 training images. That
# run took 8 min 14 s on a shared 2-core CPU without a GPU (README.md).
DEFAULT_EPOCHS = 15
DEFAULT_BATCH_SIZE = 128
DEFAULT_LATENT_DIM = 64
DEFAULT_BASE_FILTERS = 32
DEFAULT_LEARNING_RATE = 8e-4
DEFAULT_BETA_1 = 0.5
DEFAULT_EMA_DECAY = 0.995
DEFAULT_NUM_SAMPLES = 64
# Sample grids separate the images with 2 white pixels, which stand out
# against the black background of Fashion-MNIST and MNIST.
GRID_PADDING = 2
GRID_PAD_VALUE = 255

# The names in ganutils.losses.LOSSES, repeated here so that building the
# parser does not import Keras; a test checks that the two agree.
LOSS_NAMES = ("hinge", "least_squares", "minimax", "non_saturating", "wasserstein")

# Files and folders that `train` writes into its run folder.
RUN_OUTPUTS = (
    "samples",
    "history.csv",
    "history.png",
    "samples.gif",
    "generator.keras",
    "gan.keras",
    "final_grid.png",
    "run.json",
)


class UsageError(Exception):
    """Raised for invalid command-line input; `main` turns it into exit code 2."""


class _ArgumentParser(argparse.ArgumentParser):
    """An `ArgumentParser` that reports a usage error in one line."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}. See '{self.prog} --help'.\n")


def _number_type(convert, is_valid, expected):
    """Make an argparse `type` that converts text and checks the value.

    Args:
        convert: `int` or `float`.
        is_valid: Predicate that accepts a valid converted value.
        expected: Description for messages, for example "an integer >= 1".

    Returns:
        A function from the option's text to its value, which raises
        `argparse.ArgumentTypeError` naming the expected and received value.
    """

    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {expected}, received {text!r}"
            ) from None
        if not is_valid(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, received {value}")
        return value

    return parse


_positive_int = _number_type(int, lambda value: value >= 1, "an integer >= 1")
_non_negative_int = _number_type(int, lambda value: value >= 0, "an integer >= 0")
# Adam's learning rate. 1 is far above any useful rate, and 1e6 made the
# weights overflow within two epochs on 256 images.
_learning_rate = _number_type(
    float, lambda value: 0 < value <= 1, "a learning rate in (0, 1]"
)
# The same limit as ganutils.gan.MAX_TRUNCATION, which this module does not
# import before parsing because that would import TensorFlow.
MAX_TRUNCATION = 1e6
_truncation = _number_type(
    float,
    lambda value: 0 < value <= MAX_TRUNCATION,
    f"a number in (0, {MAX_TRUNCATION:.0f}]",
)
_unit_interval = _number_type(
    float, lambda value: 0.0 <= value < 1.0, "a number in [0, 1)"
)


def _add_train_parser(subparsers):
    parser = subparsers.add_parser(
        "train",
        help="train a GAN and write a run folder",
        description=(
            "Train a GAN on Fashion-MNIST or MNIST (28x28 grayscale, scaled to "
            "[-1, 1]). The run folder receives samples/epoch_NNN.png (a grid "
            "from one fixed latent batch after each epoch), history.csv and "
            "history.png (losses and mean discriminator outputs per epoch), "
            "samples.gif, generator.keras, gan.keras, final_grid.png and "
            "run.json (the options and the measured times)."
        ),
    )
    data = parser.add_argument_group("data")
    data.add_argument(
        "--dataset",
        choices=("fashion_mnist", "mnist"),
        default="fashion_mnist",
        help="training images: the 60,000-image train split (default: %(default)s)",
    )
    data.add_argument(
        "--limit",
        type=_positive_int,
        metavar="N",
        help="train on the first N images only, for quick runs (default: all)",
    )
    data.add_argument(
        "--data-dir",
        metavar="DIR",
        help=(
            "folder with the four idx .gz files, searched before the usual "
            "places (default: data/<dataset>/, the Keras cache, /usr/share/datasets)"
        ),
    )

    model = parser.add_argument_group("model")
    model.add_argument(
        "--model",
        choices=("dcgan", "mlp"),
        default="dcgan",
        help="generator and discriminator architecture (default: %(default)s)",
    )
    model.add_argument(
        "--latent-dim",
        type=_positive_int,
        default=DEFAULT_LATENT_DIM,
        metavar="D",
        help="size of the latent vector z (default: %(default)s)",
    )
    model.add_argument(
        "--base-filters",
        type=_positive_int,
        metavar="F",
        help=(
            "DCGAN only: filters of the generator's last hidden layer and of the "
            f"discriminator's first convolution (default: {DEFAULT_BASE_FILTERS})"
        ),
    )
    model.add_argument(
        "--ema-decay",
        type=_unit_interval,
        default=DEFAULT_EMA_DECAY,
        metavar="R",
        help=(
            "keep an exponential moving average of the generator's weights with "
            "this decay per step and sample from it; 0 switches it off "
            "(default: %(default)s)"
        ),
    )

    training = parser.add_argument_group("training")
    training.add_argument(
        "--epochs",
        type=_positive_int,
        default=DEFAULT_EPOCHS,
        metavar="N",
        help="passes over the training images (default: %(default)s)",
    )
    training.add_argument(
        "--batch-size",
        type=_positive_int,
        default=DEFAULT_BATCH_SIZE,
        metavar="B",
        help=(
            "real images per step; the last partial batch of an epoch is "
            "dropped (default: %(default)s)"
        ),
    )
    training.add_argument(
        "--loss",
        choices=LOSS_NAMES,
        default="non_saturating",
        help="GAN loss (default: %(default)s)",
    )
    training.add_argument(
        "--d-lr",
        type=_learning_rate,
        default=DEFAULT_LEARNING_RATE,
        metavar="LR",
        help=(
            "Adam learning rate of the discriminator, in (0, 1] (default: %(default)s)"
        ),
    )
    training.add_argument(
        "--g-lr",
        type=_learning_rate,
        default=DEFAULT_LEARNING_RATE,
        metavar="LR",
        help="Adam learning rate of the generator, in (0, 1] (default: %(default)s)",
    )
    training.add_argument(
        "--beta-1",
        type=_unit_interval,
        default=DEFAULT_BETA_1,
        metavar="B1",
        help="Adam beta_1 of both optimizers (default: %(default)s)",
    )
    training.add_argument(
        "--d-steps",
        type=_positive_int,
        default=1,
        metavar="K",
        help="discriminator updates per generator update (default: %(default)s)",
    )
    training.add_argument(
        "--gp-weight",
        type=float,
        default=0.0,
        metavar="W",
        help=(
            "weight of the WGAN-GP gradient penalty on the discriminator, 0 for "
            "none; use about 10 with --loss wasserstein (default: %(default)s)"
        ),
    )
    training.add_argument(
        "--seed",
        type=_non_negative_int,
        default=0,
        help=(
            "seed of the weights, the shuffle order, the latent vectors and the "
            "sample grids (default: %(default)s)"
        ),
    )

    output = parser.add_argument_group("output")
    output.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="run folder to write, e.g. runs/fashion_dcgan (required)",
    )
    output.add_argument(
        "--overwrite",
        action="store_true",
        help=(
            "replace the outputs of an earlier run in --out (its models, history "
            "and samples/epoch_*.png); without it a non-empty --out is an error"
        ),
    )
    output.add_argument(
        "--num-samples",
        type=_positive_int,
        default=DEFAULT_NUM_SAMPLES,
        metavar="N",
        help="images in each sample grid (default: %(default)s)",
    )
    output.add_argument(
        "--ncols",
        type=_positive_int,
        default=8,
        metavar="C",
        help="images per row of the sample grids (default: %(default)s)",
    )
    output.add_argument(
        "--verbose",
        choices=("auto", "0", "1", "2"),
        default="auto",
        help=(
            "Keras progress output: 1 is a progress bar, 2 one line per epoch "
            "(readable in log files), 0 none; auto picks 1 on a terminal and 2 "
            "otherwise (default: %(default)s)"
        ),
    )
    parser.set_defaults(handler=train)


def _add_sample_parser(subparsers):
    parser = subparsers.add_parser(
        "sample",
        help="draw a grid of images from a saved generator",
        description=(
            "Load a generator saved by 'ganutils train' (generator.keras) or a "
            "whole GAN (gan.keras), draw images from standard normal latent "
            "vectors and save them as one PNG grid."
        ),
    )
    parser.add_argument(
        "model", metavar="MODEL", help=".keras file of a generator or a GAN"
    )
    parser.add_argument(
        "--n",
        type=_positive_int,
        default=DEFAULT_NUM_SAMPLES,
        help="number of images (default: %(default)s)",
    )
    parser.add_argument(
        "--seed",
        type=_non_negative_int,
        default=0,
        help=(
            "seed of the latent vectors; the same seed and model give the same "
            "images (default: %(default)s)"
        ),
    )
    parser.add_argument(
        "--ncols",
        type=_positive_int,
        default=8,
        metavar="C",
        help="images per row (default: %(default)s)",
    )
    parser.add_argument(
        "--truncation",
        type=_truncation,
        default=1.0,
        metavar="PSI",
        help=(
            "factor that multiplies the standard normal latent vectors, in "
            f"(0, {MAX_TRUNCATION:.0f}]; below 1 gives more typical images and less "
            "variety (default: %(default)s, the prior as trained)"
        ),
    )
    parser.add_argument(
        "--out",
        default="grid.png",
        metavar="PNG",
        help="output PNG file; its folder is created if needed (default: %(default)s)",
    )
    parser.set_defaults(handler=sample)


def build_parser():
    """Build the `ganutils` argument parser with its subcommands."""
    from ganutils import __version__

    parser = _ArgumentParser(
        prog="ganutils",
        description="Train GANs on Fashion-MNIST or MNIST and draw samples.",
    )
    parser.add_argument(
        "--version", action="version", version=f"ganutils {__version__}"
    )
    subparsers = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_ArgumentParser
    )
    _add_train_parser(subparsers)
    _add_sample_parser(subparsers)
    return parser


def _prepare_run_folder(out_dir, overwrite):
    """Check that `train` may write into `out_dir` and clear old outputs.

    Without `overwrite`, any file in an existing folder is an error, so no
    earlier model or sample is lost. With it, only the outputs listed in
    `RUN_OUTPUTS` (and the `samples/epoch_*.png` grids) are removed.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out {out_dir} is a file, not a folder")
    existing = sorted(p.name for p in out_dir.iterdir()) if out_dir.is_dir() else []
    if existing and not overwrite:
        shown = ", ".join(existing[:5]) + (", ..." if len(existing) > 5 else "")
        raise UsageError(
            f"--out {out_dir} already contains {shown}; pass --overwrite to replace "
            "that run's outputs, or choose another folder"
        )
    if existing:
        for name in RUN_OUTPUTS:
            path = out_dir / name
            if path.is_file():
                path.unlink()
        for path in (out_dir / "samples").glob("epoch_*.png"):
            path.unlink()
    out_dir.mkdir(parents=True, exist_ok=True)


def _import_tensorflow_quietly():
    """Import TensorFlow with its start-up lines on stderr held back.

    TF 2.21 writes its INFO lines from C++ before its log level applies, so
    they are caught by pointing file descriptor 2 at a temporary file during
    the import. They are replayed if the import fails or if
    `TF_CPP_MIN_LOG_LEVEL` is below 3.
    """
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved_fd = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        except BaseException:
            os.dup2(saved_fd, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
        if os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0") < "3":
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))


def _format_duration(seconds):
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


def _load_training_images(args):
    from ganutils.data import load_dataset

    images, _ = load_dataset(args.dataset, "train", data_dir=args.data_dir)
    if args.limit is not None:
        images = images[: args.limit]
    if args.batch_size > len(images):
        raise UsageError(
            f"--batch-size {args.batch_size} is larger than the number of training "
            f"images ({len(images)})"
        )
    return images


def _build_gan(args, image_shape):
    """Build and compile the GAN that the `train` options describe."""
    import keras

    from ganutils.gan import GAN
    from ganutils.models import build_models

    model_options = {}
    if args.model == "dcgan":
        model_options["base_filters"] = args.base_filters
    generator, discriminator = build_models(
        args.model, args.latent_dim, image_shape, **model_options
    )
    gan = GAN(
        generator,
        discriminator,
        args.latent_dim,
        d_steps=args.d_steps,
        gradient_penalty_weight=args.gp_weight,
        # --ema-decay 0 means no moving average.
        ema_decay=args.ema_decay or None,
        seed=args.seed,
    )
    gan.compile(
        d_optimizer=keras.optimizers.Adam(args.d_lr, beta_1=args.beta_1),
        g_optimizer=keras.optimizers.Adam(args.g_lr, beta_1=args.beta_1),
        loss=args.loss,
    )
    return gan


def _save_models_and_figures(gan, args, out_dir, completed_epochs):
    """Write the models, the final grid, the history plot and the GIF."""
    from ganutils.plotting import make_gif, save_image_grid

    # generator.keras contains the generator that samples are drawn from: the
    # moving average when --ema-decay is set.
    sampling_generator = gan.generator
    if gan.ema_generator is not None:
        sampling_generator = gan.ema_generator
    sampling_generator.save(out_dir / "generator.keras")
    gan.save(out_dir / "gan.keras")
    final_images = gan.generate(args.num_samples, seed=args.seed)
    save_image_grid(
        final_images,
        out_dir / "final_grid.png",
        ncols=args.ncols,
        padding=GRID_PADDING,
        pad_value=GRID_PAD_VALUE,
    )
    if completed_epochs:
        _save_history_plot(out_dir)
        make_gif(out_dir / "samples", out_dir / "samples.gif")


def train(args):
    """Train a GAN with the `train` options and write the run folder."""
    import keras

    from ganutils.data import make_dataset
    from ganutils.plotting import HistoryCSVLogger, SampleGridCallback

    start_time = time.perf_counter()
    if args.model != "dcgan" and args.base_filters is not None:
        raise UsageError("--base-filters applies to --model dcgan only")
    if args.model == "dcgan" and args.base_filters is None:
        # Filled in here so that run.json records the value that was used.
        args.base_filters = DEFAULT_BASE_FILTERS
    images = _load_training_images(args)
    out_dir = Path(args.out)
    _prepare_run_folder(out_dir, args.overwrite)

    keras.utils.set_random_seed(args.seed)
    gan = _build_gan(args, images.shape[1:])
    dataset = make_dataset(images, args.batch_size, seed=args.seed)
    steps_per_epoch = len(images) // args.batch_size
    sample_callback = SampleGridCallback(
        num_images=args.num_samples,
        seed=args.seed,
        out_dir=out_dir / "samples",
        ncols=args.ncols,
        padding=GRID_PADDING,
        pad_value=GRID_PAD_VALUE,
    )
    callbacks = [sample_callback, HistoryCSVLogger(out_dir / "history.csv")]
    if args.verbose == "auto":
        verbose = 1 if sys.stdout.isatty() else 2
    else:
        verbose = int(args.verbose)

    fit_start = time.perf_counter()
    interrupted = False
    try:
        gan.fit(dataset, epochs=args.epochs, verbose=verbose, callbacks=callbacks)
    except KeyboardInterrupt:
        interrupted = True
        print("\nInterrupted: saving the models of the last step.", file=sys.stderr)
    fit_seconds = time.perf_counter() - fit_start
    completed_epochs = len(sample_callback.grids)
    _save_models_and_figures(gan, args, out_dir, completed_epochs)

    # Throughput counts the real images of the completed epochs over the time
    # of `fit`, which includes tracing the step and drawing the sample grids.
    images_per_second = (
        completed_epochs * steps_per_epoch * args.batch_size / fit_seconds
    )
    wall_seconds = time.perf_counter() - start_time
    final_metrics = {
        name: float(value) for name, value in gan.get_metrics_result().items()
    }
    summary = {
        "command": " ".join(["ganutils", *args.argv]),
        "options": {
            name: value
            for name, value in vars(args).items()
            if name not in ("handler", "argv")
        },
        "num_images": len(images),
        "steps_per_epoch": steps_per_epoch,
        "completed_epochs": completed_epochs,
        "final_metrics": final_metrics,
        "training_seconds": round(fit_seconds, 1),
        "wall_seconds": round(wall_seconds, 1),
        "images_per_second": round(images_per_second, 1),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "keras": keras.__version__,
    }
    (out_dir / "run.json").write_text(json.dumps(summary, indent=2) + "\n")

    epochs_text = f"{completed_epochs} epoch{'' if completed_epochs == 1 else 's'}"
    print(
        f"final d_loss={final_metrics['d_loss']:.4f} "
        f"g_loss={final_metrics['g_loss']:.4f} after {epochs_text} | "
        f"{images_per_second:,.0f} images/s | "
        f"wall time {_format_duration(wall_seconds)} ({wall_seconds:.1f} s) | {out_dir}"
    )
    return 130 if interrupted else 0


def _save_history_plot(out_dir):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ganutils.plotting import load_history_csv, plot_history

    figure = plot_history(load_history_csv(out_dir / "history.csv"))
    figure.savefig(out_dir / "history.png", dpi=100)
    plt.close(figure)


def _load_model(path):
    import keras

    import ganutils.gan  # noqa: F401  (registers the GAN class for loading)

    # Keras reports a damaged .keras archive as "File not found", which
    # misleads when the file exists, so check that it is a zip archive first.
    if path.suffix == ".keras" and not zipfile.is_zipfile(path):
        raise UsageError(
            f"{path} is not a valid .keras file (it is not a zip archive); "
            "it may be damaged or cut short. Save the model again"
        )
    try:
        return keras.saving.load_model(path)
    except (ValueError, OSError, KeyError, TypeError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise UsageError(
            f"could not load {path} as a Keras model ({type(error).__name__}: "
            f"{first_line})"
        ) from None


def sample(args):
    """Draw `--n` images from a saved generator or GAN and save one grid."""
    import keras

    from ganutils.gan import GAN, draw_latent_vectors
    from ganutils.plotting import save_image_grid

    path = Path(args.model)
    if not path.is_file():
        raise UsageError(f"model file not found: {path}")
    if path.suffix not in (".keras", ".h5"):
        raise UsageError(
            f"expected a .keras (or legacy .h5) model file. Received: {path}"
        )
    model = _load_model(path)

    if isinstance(model, GAN):
        if model.num_classes is not None:
            labels = np.arange(args.n) % model.num_classes
            images = model.generate(
                args.n, labels=labels, seed=args.seed, truncation=args.truncation
            )
        else:
            images = model.generate(args.n, seed=args.seed, truncation=args.truncation)
    elif isinstance(model, keras.Model):
        if len(model.inputs) != 1 or len(model.inputs[0].shape) != 2:
            input_shapes = [tuple(tensor.shape) for tensor in model.inputs]
            raise UsageError(
                f"{path} takes inputs of shapes {input_shapes}; "
                "expected one input (batch, latent_dim). For a conditional GAN, "
                "pass its gan.keras file"
            )
        if len(model.outputs[0].shape) != 4:
            raise UsageError(
                f"{path} outputs shape {tuple(model.outputs[0].shape)}, not images "
                "(batch, height, width, channels); is it a discriminator?"
            )
        latent_dim = int(model.inputs[0].shape[-1])
        latent_vectors = draw_latent_vectors(
            args.n, latent_dim, args.seed, args.truncation
        )
        images = keras.ops.convert_to_numpy(model.predict(latent_vectors, verbose=0))
    else:
        raise UsageError(f"{path} contains a {type(model).__name__}, not a Keras model")

    out_path = save_image_grid(
        images,
        args.out,
        ncols=args.ncols,
        padding=GRID_PADDING,
        pad_value=GRID_PAD_VALUE,
    )
    truncation = "" if args.truncation == 1 else f", truncation {args.truncation:g}"
    print(
        f"wrote {out_path} ({args.n} images from {path}, seed {args.seed}{truncation})"
    )
    return 0


def main(argv=None):
    """Run the `ganutils` command line and return its exit code.

    Args:
        argv: Arguments without the program name; by default `sys.argv[1:]`.

    Returns:
        0 on success; 1 if the dataset could not be found or verified, or a
        file could not be written; 2 for invalid arguments, including a model
        file that is missing or can't be loaded; 130 if training was
        interrupted.
    """
    from ganutils.data import ChecksumError, DatasetNotFoundError

    parser = build_parser()
    if argv is None:
        argv = sys.argv[1:]
    args = parser.parse_args(argv)
    args.argv = list(argv)
    prog = f"ganutils {args.command}"
    _import_tensorflow_quietly()
    try:
        return args.handler(args)
    except UsageError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    except (DatasetNotFoundError, ChecksumError, OSError) as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 1
