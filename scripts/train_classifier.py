"""Train the small CNN whose features and class probabilities the metrics use.

`ganutils.metrics` computes the Fréchet distance, kernel inception distance,
inception score and the other sample-quality measures on this classifier
instead of Inception-v3, which was trained on ImageNet photographs and has
never seen a 28 x 28 grey-scale image. The script trains one classifier per
dataset with a fixed seed, saves it as
`data/classifier/<dataset>_classifier.keras`, and prints its test accuracy
and the SHA-256 that `ganutils.metrics.CLASSIFIER_SHA256` must hold.

Usage (from the repository root):

    PYTHONPATH=. .venv/bin/python scripts/train_classifier.py
    PYTHONPATH=. .venv/bin/python scripts/train_classifier.py --dataset mnist

A dataset whose files cannot be found is skipped with a message, so
`--dataset all` trains every classifier that the machine has data for.
"""

import argparse
import json
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

from ganutils.data import DatasetNotFoundError, load_dataset, sha256_file  # noqa: E402

DEFAULT_OUT_DIR = Path(__file__).resolve().parent.parent / "data" / "classifier"
DATASETS = ("fashion_mnist", "mnist")
NUM_CLASSES = 10
FEATURE_LAYER = "features"


def build_classifier(image_shape=(28, 28, 1), num_classes=NUM_CLASSES, feature_dim=128):
    """Build the two-block CNN classifier used by `ganutils.metrics`.

    Each block is a 3 x 3 convolution, batch normalization, ReLU and 2 x 2
    max pooling. A `Dense` layer of `feature_dim` units with batch
    normalization and a ReLU named `"features"` follows, then dropout and
    the softmax output.

    Args:
        image_shape: `(height, width, channels)` of the input images, whose
            values lie in [-1, 1].
        num_classes: Number of output classes.
        feature_dim: Width of the feature layer the metrics compare.

    Returns:
        A `keras.Model` from `(batch, *image_shape)` images to class
        probabilities of shape `(batch, num_classes)`.
    """
    inputs = keras.Input(shape=image_shape, name="images")
    x = inputs
    for filters in (32, 64):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
        x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.3)(x)
    # Batch normalization before the ReLU keeps every feature unit active on
    # part of the data. Without it, most of the 128 units ended up always 0,
    # which left the metrics a much smaller feature space.
    x = layers.Dense(feature_dim, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU(name=FEATURE_LAYER)(x)
    x = layers.Dropout(0.3)(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="classifier")


def _display_path(path):
    """Return `path` relative to the repository root when it lies inside it."""
    repository_root = DEFAULT_OUT_DIR.parent.parent
    try:
        return str(path.resolve().relative_to(repository_root))
    except ValueError:
        return str(path)


def cpu_model_name():
    """Return the CPU model from /proc/cpuinfo, or the platform's machine type."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def train_one(dataset, args):
    """Train, evaluate and save the classifier for one dataset.

    Returns:
        A dict describing the run (accuracy, digest, command, machine), which
        is also written next to the weights as JSON.
    """
    train_images, train_labels = load_dataset(dataset, "train")
    test_images, test_labels = load_dataset(dataset, "test")
    if args.train_limit:
        train_images = train_images[: args.train_limit]
        train_labels = train_labels[: args.train_limit]

    keras.utils.set_random_seed(args.seed)
    model = build_classifier(image_shape=train_images.shape[1:])
    steps_per_epoch = int(np.ceil(len(train_images) / args.batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(
        args.learning_rate, decay_steps=args.epochs * steps_per_epoch
    )
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )

    start = time.perf_counter()
    model.fit(
        train_images,
        train_labels,
        batch_size=args.batch_size,
        epochs=args.epochs,
        shuffle=True,
        verbose=2,
    )
    wall_seconds = time.perf_counter() - start
    _, test_accuracy = model.evaluate(
        test_images, test_labels, batch_size=1000, verbose=0
    )

    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{dataset}_classifier.keras"
    # Save a fresh copy without the optimizer, whose moment estimates would
    # double the file size and are not needed to compute features.
    inference_model = build_classifier(image_shape=train_images.shape[1:])
    inference_model.set_weights(model.get_weights())
    inference_model.save(path)
    record = {
        "dataset": dataset,
        "path": _display_path(path),
        "sha256": sha256_file(path),
        "size_bytes": path.stat().st_size,
        "test_accuracy": round(float(test_accuracy), 4),
        "train_images": len(train_images),
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "seed": args.seed,
        "train_wall_seconds": round(wall_seconds, 1),
        "command": "PYTHONPATH=. .venv/bin/python " + " ".join(sys.argv),
        "machine": f"{cpu_model_name()}, {os.cpu_count()} CPU cores, no GPU used",
        "versions": {"keras": keras.__version__, "numpy": np.__version__},
        "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M"),
    }
    (out_dir / f"{dataset}_classifier.json").write_text(
        json.dumps(record, indent=2) + "\n"
    )
    return record


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dataset",
        choices=(*DATASETS, "all"),
        default="fashion_mnist",
        help="Dataset to train on; 'all' trains one classifier per dataset found.",
    )
    parser.add_argument(
        "--epochs", type=int, default=8, help="Passes over the training set."
    )
    parser.add_argument("--batch-size", type=int, default=128, help="Images per step.")
    parser.add_argument(
        "--learning-rate", type=float, default=2e-3, help="Initial Adam learning rate."
    )
    parser.add_argument(
        "--seed", type=int, default=1234, help="Seed of weights and order."
    )
    parser.add_argument(
        "--train-limit",
        type=int,
        default=0,
        help="Train on only the first N training images (0 = all), for smoke tests.",
    )
    parser.add_argument(
        "--out-dir", default=str(DEFAULT_OUT_DIR), help="Folder for the .keras files."
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    datasets = DATASETS if args.dataset == "all" else (args.dataset,)
    for dataset in datasets:
        try:
            record = train_one(dataset, args)
        except DatasetNotFoundError as error:
            print(
                f"Skipped {dataset}: its files were not found.\n{error}",
                file=sys.stderr,
            )
            continue
        print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
