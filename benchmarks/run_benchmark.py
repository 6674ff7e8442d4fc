"""Train GAN configurations for a fixed wall-clock budget and evaluate each one.

Every configuration trains on the full Fashion-MNIST training set (60,000
images) until its time budget runs out, then `ganutils.metrics.evaluate`
compares 10,000 samples with the 10,000 test images. Each run appends one JSON
line to the results file, so configurations can be run a few at a time and
the table rebuilt from everything recorded.

Usage (from the repository root):

    PYTHONPATH=. .venv/bin/python benchmarks/run_benchmark.py --list
    PYTHONPATH=. .venv/bin/python benchmarks/run_benchmark.py --minutes 2 \\
        --configs real_data default mlp_reference
    PYTHONPATH=. .venv/bin/python benchmarks/run_benchmark.py --table
    PYTHONPATH=. .venv/bin/python benchmarks/run_benchmark.py --minutes 2 \\
        --configs default --truncations 0.8 0.5
    PYTHONPATH=. .venv/bin/python benchmarks/run_benchmark.py --curve

Throughput is measured in images per second after the first step (which
includes tracing), and as a share of the machine's float32 matrix-multiply
rate, measured at start-up with a large `keras.ops.matmul`. The FLOPs of a
training step are an estimate from the Dense and convolution layers only.
"""

import argparse
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

from ganutils import GAN, cli, metrics  # noqa: E402
from ganutils.data import load_dataset, make_dataset  # noqa: E402
from ganutils.gan import check_truncation  # noqa: E402
from ganutils.models import (  # noqa: E402
    build_dcgan_discriminator,
    build_dcgan_generator,
    build_mlp_discriminator,
    build_mlp_generator,
)
from ganutils.plotting import save_image_grid  # noqa: E402

BENCHMARK_DIR = Path(__file__).resolve().parent
DEFAULT_RESULTS = BENCHMARK_DIR / "results.jsonl"
SAMPLES_DIR = BENCHMARK_DIR / "samples"
IMAGE_SHAPE = (28, 28, 1)


def build_tf_tutorial_dcgan(latent_dim):
    """Build the generator and discriminator of TensorFlow's DCGAN tutorial.

    Generator: Dense to 7 x 7 x 256, then 5 x 5 transposed convolutions with
    128 (stride 1), 64 (stride 2) and 1 (stride 2, tanh) filters, with batch
    normalization and LeakyReLU between them. Discriminator: 5 x 5 stride-2
    convolutions with 64 and 128 filters, each with LeakyReLU and dropout
    0.3, then one logit.
    """
    latent_vectors = keras.Input(shape=(latent_dim,))
    x = layers.Dense(7 * 7 * 256, use_bias=False)(latent_vectors)
    x = layers.BatchNormalization()(x)
    x = layers.LeakyReLU()(x)
    x = layers.Reshape((7, 7, 256))(x)
    for filters, strides in ((128, 1), (64, 2)):
        x = layers.Conv2DTranspose(filters, 5, strides, padding="same", use_bias=False)(
            x
        )
        x = layers.BatchNormalization()(x)
        x = layers.LeakyReLU()(x)
    images = layers.Conv2DTranspose(1, 5, 2, padding="same", activation="tanh")(x)
    generator = keras.Model(latent_vectors, images, name="tf_tutorial_generator")

    inputs = keras.Input(shape=IMAGE_SHAPE)
    x = inputs
    for filters in (64, 128):
        x = layers.Conv2D(filters, 5, 2, padding="same")(x)
        x = layers.LeakyReLU()(x)
        x = layers.Dropout(0.3)(x)
    logits = layers.Dense(1)(layers.Flatten()(x))
    discriminator = keras.Model(inputs, logits, name="tf_tutorial_discriminator")
    return generator, discriminator


def _default_config(**changes):
    """Return the course default (`ganutils train`'s defaults) with changes."""
    config = {
        "model": "dcgan",
        "latent_dim": cli.DEFAULT_LATENT_DIM,
        "base_filters": cli.DEFAULT_BASE_FILTERS,
        "batch_size": cli.DEFAULT_BATCH_SIZE,
        "d_learning_rate": cli.DEFAULT_LEARNING_RATE,
        "g_learning_rate": cli.DEFAULT_LEARNING_RATE,
        "beta_1": cli.DEFAULT_BETA_1,
        "beta_2": 0.999,
        "loss": "non_saturating",
        "d_steps": 1,
        "gradient_penalty_weight": 0.0,
        "ema_decay": cli.DEFAULT_EMA_DECAY,
    }
    config.update(changes)
    return config


# Adam 2e-4 with beta_1 0.5 and no moving average: the usual DCGAN setting,
# and the course default until the tuning runs in docs/benchmarks.md. The
# references and the two-minute variants keep it when the default changes.
CLASSIC_SETTINGS = {
    "d_learning_rate": 2e-4,
    "g_learning_rate": 2e-4,
    "beta_1": 0.5,
    "beta_2": 0.999,
    "ema_decay": None,
}


def _previous_default(**changes):
    """Return the DCGAN default before tuning (classic Adam, no EMA) with changes."""
    return _default_config(**{**CLASSIC_SETTINGS, **changes})


CONFIGS = {
    "default": _default_config(),
    # The classic MLP GAN: 256-512 generator, 512-256 discriminator, Adam 2e-4
    # with beta_1 0.5, batch 128, latent size 100.
    "mlp_reference": _previous_default(model="mlp", latent_dim=100, batch_size=128),
    # TensorFlow's DCGAN tutorial: its own models, Adam(1e-4) with Keras'
    # default betas, batch 256, latent size 100.
    "tf_tutorial_dcgan": _previous_default(
        model="tf_tutorial",
        latent_dim=100,
        batch_size=256,
        d_learning_rate=1e-4,
        g_learning_rate=1e-4,
        beta_1=0.9,
    ),
    "previous_default": _previous_default(),
    # The two-minute variants, each one change of the previous default.
    "loss_minimax": _previous_default(loss="minimax"),
    "loss_least_squares": _previous_default(loss="least_squares"),
    "loss_hinge": _previous_default(loss="hinge"),
    # WGAN-GP with two critic updates per generator update and beta_2 0.9.
    "loss_wasserstein_gp": _previous_default(
        loss="wasserstein", gradient_penalty_weight=10.0, d_steps=2, beta_2=0.9
    ),
    "ema": _previous_default(ema_decay=0.999),
    "two_learning_rates": _previous_default(d_learning_rate=4e-4, g_learning_rate=1e-4),
    "width_16": _previous_default(base_filters=16),
    "width_64": _previous_default(base_filters=64),
    "batch_64": _previous_default(batch_size=64),
    "batch_256": _previous_default(batch_size=256),
}
REAL_DATA = "real_data"
# The course's committed generator, trained for longer than the budget. Its
# row is for reference, without throughput numbers.
CHECKPOINT = "course_checkpoint"
CHECKPOINT_PATH = (
    BENCHMARK_DIR.parent / "data" / "checkpoints" / "fashion_dcgan_generator.keras"
)
EXTRA_ROWS = (REAL_DATA, CHECKPOINT)


def build_models(config):
    """Build the `(generator, discriminator)` pair that a configuration names."""
    latent_dim = config["latent_dim"]
    if config["model"] == "mlp":
        return (
            build_mlp_generator(latent_dim, IMAGE_SHAPE, units=(256, 512)),
            build_mlp_discriminator(IMAGE_SHAPE, units=(512, 256)),
        )
    if config["model"] == "tf_tutorial":
        return build_tf_tutorial_dcgan(latent_dim)
    return (
        build_dcgan_generator(latent_dim, IMAGE_SHAPE, config["base_filters"]),
        build_dcgan_discriminator(IMAGE_SHAPE, config["base_filters"]),
    )


def layer_flops(layer):
    """Estimate the forward FLOPs per image of a Dense or convolution layer.

    A multiply-add counts as 2 FLOPs. Other layers (normalization,
    activations, reshapes) count as 0.
    """
    if isinstance(layer, layers.Dense):
        return 2 * int(layer.input.shape[-1]) * layer.units
    if isinstance(layer, (layers.Conv2D, layers.Conv2DTranspose)):
        kernel_height, kernel_width = layer.kernel_size
        input_channels = int(layer.input.shape[-1])
        # A convolution does its work at every output position; a transposed
        # convolution at every input position.
        if isinstance(layer, layers.Conv2DTranspose):
            positions = int(layer.input.shape[1]) * int(layer.input.shape[2])
        else:
            positions = int(layer.output.shape[1]) * int(layer.output.shape[2])
        return (
            2
            * kernel_height
            * kernel_width
            * input_channels
            * layer.filters
            * positions
        )
    return 0


def forward_flops(model):
    """Estimate the forward FLOPs per image of a functional model."""
    return sum(layer_flops(layer) for layer in model.layers)


def training_flops_per_image(generator, discriminator, d_steps):
    """Estimate the FLOPs per real image of one GAN training step.

    Each discriminator update runs G forward (G), D forward on a real and a
    generated batch (2 D) and D's backward pass for both (about 4 D). The
    generator update runs G and D forward, the backward pass through D to its
    input (about D) and G's backward pass (about 2 G). The gradient penalty
    of WGAN-GP is not counted.
    """
    g_forward = forward_flops(generator)
    d_forward = forward_flops(discriminator)
    return d_steps * (g_forward + 6 * d_forward) + 3 * g_forward + 2 * d_forward


def measure_matmul_peak(sizes=(2048, 4096), seconds=3.0):
    """Measure the float32 matrix-multiply rate of this machine in FLOP/s.

    Returns the best rate of a compiled TensorFlow product of two square
    matrices of each size, each repeated for `seconds`. Other jobs on the
    machine lower it, so it is a lower bound of the true peak.
    """
    import tensorflow as tf

    best_rate = 0.0
    for size in sizes:
        a = tf.random.normal((size, size), seed=1)
        b = tf.random.normal((size, size), seed=2)
        product_sum = tf.function(lambda a=a, b=b: tf.reduce_sum(tf.matmul(a, b)))
        product_sum().numpy()
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            product_sum().numpy()
            rate = 2 * size**3 / (time.perf_counter() - start)
            best_rate = max(best_rate, rate)
    return best_rate


class WallClockBudget(keras.callbacks.Callback):
    """Stop `fit` once a time budget has passed and time the steps after the first.

    Attributes:
        steps: Training steps run.
        measured_seconds: Time from the end of the first step (which includes
            tracing) to the end of the last.
    """

    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds
        self.steps = 0
        self.measured_seconds = 0.0

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        self.steps += 1
        if self.steps == 1:
            self.first_step_end = now
        self.measured_seconds = now - self.first_step_end
        # Run at least two steps, so that one step after tracing is timed.
        if now - self.start >= self.seconds and self.steps >= 2:
            self.model.stop_training = True


def build_gan(config, generator, discriminator, seed):
    """Build and compile the `GAN` of a configuration around its two models.

    Both networks get Adam with the configuration's learning rate and betas.
    """
    gan = GAN(
        generator,
        discriminator,
        config["latent_dim"],
        d_steps=config["d_steps"],
        gradient_penalty_weight=config["gradient_penalty_weight"],
        ema_decay=config["ema_decay"],
        seed=seed,
    )
    gan.compile(
        d_optimizer=keras.optimizers.Adam(
            config["d_learning_rate"], beta_1=config["beta_1"], beta_2=config["beta_2"]
        ),
        g_optimizer=keras.optimizers.Adam(
            config["g_learning_rate"], beta_1=config["beta_1"], beta_2=config["beta_2"]
        ),
        loss=config["loss"],
    )
    return gan


def train_config(name, config, train_images, minutes, seed):
    """Train one configuration for `minutes` of wall-clock time.

    Returns:
        A tuple `(gan, record)` where `record` contains the throughput numbers.
    """
    keras.utils.set_random_seed(seed)
    generator, discriminator = build_models(config)
    gan = build_gan(config, generator, discriminator, seed)
    dataset = make_dataset(train_images, config["batch_size"], seed=seed)
    budget = WallClockBudget(minutes * 60)
    # The budget callback ends training long before this many epochs.
    gan.fit(dataset, epochs=1000, callbacks=[budget], verbose=0)

    images_per_second = (
        (budget.steps - 1) * config["batch_size"] / budget.measured_seconds
    )
    flops_per_image = training_flops_per_image(
        generator, discriminator, config["d_steps"]
    )
    record = {
        "steps": budget.steps,
        "epochs": round(budget.steps * config["batch_size"] / len(train_images), 2),
        "images_per_second": round(images_per_second, 1),
        "train_gflops_per_image": round(flops_per_image / 1e9, 4),
        "achieved_gflops": round(images_per_second * flops_per_image / 1e9, 2),
        "generator_parameters": generator.count_params(),
        "discriminator_parameters": discriminator.count_params(),
    }
    return gan, record


CURVE_KEYS = (
    "fid",
    "precision",
    "recall",
    "classes_covered",
    "two_sample_accuracy",
)


def machine_description():
    """Return the CPU core count and the GPUs that TensorFlow lists, as text."""
    gpus = tf.config.list_physical_devices("GPU")
    gpu_text = ", ".join(gpu.name for gpu in gpus) if gpus else "no GPU"
    return f"{os.cpu_count()} CPU cores, {gpu_text}"


def truncation_curve(
    generator, truncations, num_samples, test_images, classifier, seed
):
    """Evaluate a generator at each truncation, without the memorisation check.

    Args:
        generator: A `ganutils.GAN` or a generator `keras.Model`.
        truncations: Latent scales to evaluate, each in (0, 1e6].
        num_samples: Images drawn at each truncation.

    Returns:
        A dict from each truncation, as a string, to the values of `CURVE_KEYS`.
    """
    curve = {}
    for truncation in truncations:
        samples = metrics.generate_images(
            generator, num_samples, seed=seed, truncation=truncation
        )
        results = metrics.evaluate(
            samples, test_images, classifier=classifier, seed=seed, verbose=False
        )
        curve[str(truncation)] = {key: results[key] for key in CURVE_KEYS}
    return curve


def run(
    names,
    minutes,
    results_path,
    seed,
    num_samples,
    samples_dir=SAMPLES_DIR,
    truncations=(),
):
    train_images, _ = load_dataset("fashion_mnist", "train")
    test_images, _ = load_dataset("fashion_mnist", "test")
    classifier = metrics.load_classifier()
    peak_flops = measure_matmul_peak()
    samples_dir = Path(samples_dir)
    samples_dir.mkdir(exist_ok=True)
    for name in names:
        start = time.perf_counter()
        if name == CHECKPOINT:
            record = {"config": str(CHECKPOINT_PATH.relative_to(BENCHMARK_DIR.parent))}
            source = keras.saving.load_model(CHECKPOINT_PATH, compile=False)
            memorization_images = train_images
        elif name == REAL_DATA:
            # The first num_samples training images stand in for the samples,
            # and the rest are the training set of the memorisation check.
            record = {"config": None}
            source = None
            memorization_images = train_images[num_samples:]
        else:
            config = CONFIGS[name]
            source, record = train_config(name, config, train_images, minutes, seed)
            record["config"] = config
            record["share_of_matmul_peak"] = round(
                record["achieved_gflops"] * 1e9 / peak_flops, 4
            )
            memorization_images = train_images
        if source is None:
            samples = train_images[:num_samples]
        else:
            samples = metrics.generate_images(source, num_samples, seed=seed)
        results = metrics.evaluate(
            samples,
            test_images,
            memorization_images,
            classifier=classifier,
            seed=seed,
            verbose=False,
        )
        save_image_grid(samples[:64], samples_dir / f"{name}.png", ncols=16, padding=1)
        if truncations and source is not None:
            record["truncation_metrics"] = truncation_curve(
                source, truncations, num_samples, test_images, classifier, seed
            )
        record = {
            "name": name,
            "minutes": None if name in EXTRA_ROWS else minutes,
            **record,
            "metrics": results,
            "matmul_peak_gflops": round(peak_flops / 1e9, 1),
            "wall_seconds": round(time.perf_counter() - start, 1),
            "seed": seed,
            "machine": machine_description(),
            "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M"),
            "command": "PYTHONPATH=. .venv/bin/python " + " ".join(sys.argv),
        }
        with open(results_path, "a") as file:
            file.write(json.dumps(record) + "\n")
        print(
            f"{name}: FID {results['fid']:.2f}, recall {results['recall']:.3f}, "
            f"two-sample accuracy {results['two_sample_accuracy']:.3f} "
            f"({record['wall_seconds']:.0f} s)",
            flush=True,
        )


TABLE_COLUMNS = (
    ("FID", "fid", "{:.2f}"),
    ("KID", "kid", "{:.3f}"),
    ("IS", "inception_score", "{:.2f}"),
    ("Precision", "precision", "{:.3f}"),
    ("Recall", "recall", "{:.3f}"),
    ("Classes", "classes_covered", "{}"),
    ("Class entropy", "class_entropy", "{:.3f}"),
    ("NN ratio", "memorization_ratio", "{:.3f}"),
    ("Two-sample acc.", "two_sample_accuracy", "{:.3f}"),
)


def format_table(results_path):
    """Return a Markdown table of the latest record of each configuration.

    The share of the matrix-multiply peak uses the highest rate measured in
    any run, because other jobs on a shared machine lower single
    measurements.
    """
    latest = {}
    with open(results_path) as file:
        for line in file:
            record = json.loads(line)
            latest[record["name"]] = record
    peak_gflops = max(record["matmul_peak_gflops"] for record in latest.values())
    header = [
        "Configuration",
        "Steps",
        "Epochs",
        "Images/s",
        "GFLOP/s (est.)",
        "% of matmul peak",
    ]
    header += [title for title, _, _ in TABLE_COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    order = [*EXTRA_ROWS, *CONFIGS]
    for name in sorted(
        latest, key=lambda n: order.index(n) if n in order else len(order)
    ):
        record = latest[name]
        row = [name]
        if "steps" not in record:
            # Rows without training: real data and saved generators.
            row += ["-"] * 5
        else:
            row += [
                str(record["steps"]),
                f"{record['epochs']:.1f}",
                f"{record['images_per_second']:.0f}",
                f"{record['achieved_gflops']:.0f}",
                f"{100 * record['achieved_gflops'] / peak_gflops:.1f}",
            ]
        row += [fmt.format(record["metrics"][key]) for _, key, fmt in TABLE_COLUMNS]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def format_curve(results_path):
    """Return a Markdown table of precision and recall at each truncation.

    It has one row per truncation of each configuration's latest record that
    has them, after the untruncated row (truncation 1).
    """
    latest = {}
    with open(results_path) as file:
        for line in file:
            record = json.loads(line)
            latest[record["name"]] = record
    header = ["Configuration", "Truncation", "FID", "Precision", "Recall"]
    header += ["Classes", "Two-sample acc."]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, record in latest.items():
        points = [("1.0", record["metrics"])]
        points += list(record.get("truncation_metrics", {}).items())
        for truncation, values in points:
            row = [
                name,
                truncation,
                f"{values['fid']:.2f}",
                f"{values['precision']:.3f}",
                f"{values['recall']:.3f}",
                str(values["classes_covered"]),
                f"{values['two_sample_accuracy']:.3f}",
            ]
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--configs",
        nargs="+",
        default=[REAL_DATA, *CONFIGS],
        help=f"Configurations to run, from {', '.join((*EXTRA_ROWS, *CONFIGS))}.",
    )
    parser.add_argument(
        "--minutes",
        type=float,
        default=2.0,
        help="Training time per configuration, in minutes.",
    )
    parser.add_argument(
        "--num-samples",
        type=int,
        default=10000,
        help="Samples evaluated per configuration; fewer raise FID, so compare "
        "only runs with equal numbers.",
    )
    parser.add_argument("--seed", type=int, default=0, help="Seed of weights and data.")
    parser.add_argument(
        "--results", default=str(DEFAULT_RESULTS), help="JSON-lines file to append to."
    )
    parser.add_argument(
        "--samples-dir",
        default=str(SAMPLES_DIR),
        help="Folder for each configuration's grid of 64 samples.",
    )
    parser.add_argument(
        "--truncations",
        nargs="+",
        type=float,
        default=[],
        help="Also evaluate each generator at these latent scales (the truncation "
        "trick), for a precision-recall curve; 1 is always evaluated.",
    )
    parser.add_argument("--list", action="store_true", help="List the configurations.")
    parser.add_argument(
        "--table", action="store_true", help="Print the Markdown table of the results."
    )
    parser.add_argument(
        "--curve",
        action="store_true",
        help="Print the Markdown table of the results at each truncation.",
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.list:
        for name, config in CONFIGS.items():
            print(name, json.dumps(config))
        return
    if args.table:
        print(format_table(args.results))
        return
    if args.curve:
        print(format_curve(args.results))
        return
    for truncation in args.truncations:
        try:
            check_truncation(truncation)
        except ValueError as error:
            raise SystemExit(f"--truncations: {error}") from None
    # Truncation 1 is the main evaluation, so it is not repeated.
    truncations = [value for value in dict.fromkeys(args.truncations) if value != 1]
    unknown = [
        name for name in args.configs if name not in EXTRA_ROWS and name not in CONFIGS
    ]
    if unknown:
        raise SystemExit(
            f"Unknown configuration {unknown}. "
            f"Expected names from --list, {REAL_DATA} or {CHECKPOINT}."
        )
    run(
        args.configs,
        args.minutes,
        args.results,
        args.seed,
        args.num_samples,
        args.samples_dir,
        truncations,
    )


if __name__ == "__main__":
    main()
