"""Tuning runs: train one DCGAN setting for a budget, evaluate it and its EMAs.

This is the script behind the tuning table in `docs/benchmarks.md`. It trains
the course's DCGAN with some settings changed for a wall-clock budget, like
`run_benchmark.py`, and keeps exponential moving averages (EMAs) of the
generator's weights on the side, without changing the training. It then
evaluates the trained generator and each average on the same 10,000 latent
vectors, so the averages are compared on one training run.

Usage (from the repository root):

    PYTHONPATH=. .venv/bin/python benchmarks/tune.py NAME 'JSON' MINUTES
    PYTHONPATH=. .venv/bin/python benchmarks/tune.py --table

`JSON` contains the changes to the default, with the keys of
`run_benchmark._default_config()` and seven more:

- `g_base_filters` and `d_base_filters` give the generator or the
  discriminator another width than `base_filters`;
- `minibatch_stddev`, when true, adds `ganutils.toy.MinibatchStddev` after
  the discriminator's `Flatten` layer;
- `spectral_norm`, when true, wraps the discriminator's `Conv2D` and `Dense`
  layers in `keras.layers.SpectralNormalization`;
- `cosine_decay_steps` lowers both learning rates to 0 along a cosine over
  this many steps (after them they stay at 0);
- `emas` lists the decays of the averages to keep;
- `warmup`, when true, adds an average of decay 0.999 with the warm-up
  `min(0.999, (1 + t) / (10 + t))` at step t.

One JSON line per run is appended to `benchmarks/results_tuning.jsonl`.
"""

import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run_benchmark  # noqa: E402

from ganutils import metrics  # noqa: E402
from ganutils.data import load_dataset, make_dataset  # noqa: E402
from ganutils.models import (  # noqa: E402
    build_dcgan_discriminator,
    build_dcgan_generator,
)
from ganutils.toy import MinibatchStddev  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results_tuning.jsonl"
WARMUP = "warmup_0.999"
METRIC_KEYS = (
    "fid",
    "kid",
    "inception_score",
    "precision",
    "recall",
    "classes_covered",
    "two_sample_accuracy",
)


def _rebuild_discriminator(discriminator, minibatch_stddev, spectral_norm):
    """Rebuild the discriminator with new weights and the requested changes.

    `minibatch_stddev` adds a `MinibatchStddev` layer after `Flatten`, and
    `spectral_norm` wraps every `Conv2D` and `Dense` layer in
    `keras.layers.SpectralNormalization`.
    """
    x = discriminator.inputs[0]
    for layer in discriminator.layers[1:]:
        new_layer = layer.__class__.from_config(layer.get_config())
        if spectral_norm and isinstance(
            layer, (keras.layers.Conv2D, keras.layers.Dense)
        ):
            new_layer = keras.layers.SpectralNormalization(new_layer)
        x = new_layer(x)
        if minibatch_stddev and isinstance(layer, keras.layers.Flatten):
            x = MinibatchStddev()(x)
    return keras.Model(discriminator.inputs, x, name=discriminator.name)


def main(name, changes, minutes, seed=0):
    default = run_benchmark._default_config()
    # The averages below replace the GAN's own moving average.
    config = {key: changes.get(key, value) for key, value in default.items()}
    config["ema_decay"] = None
    train_images, _ = load_dataset("fashion_mnist", "train")
    test_images, _ = load_dataset("fashion_mnist", "test")
    classifier = metrics.load_classifier()
    keras.utils.set_random_seed(seed)
    generator = build_dcgan_generator(
        config["latent_dim"],
        run_benchmark.IMAGE_SHAPE,
        changes.get("g_base_filters", config["base_filters"]),
    )
    discriminator = build_dcgan_discriminator(
        run_benchmark.IMAGE_SHAPE,
        changes.get("d_base_filters", config["base_filters"]),
    )
    minibatch_stddev = changes.get("minibatch_stddev", False)
    spectral_norm = changes.get("spectral_norm", False)
    if minibatch_stddev or spectral_norm:
        discriminator = _rebuild_discriminator(
            discriminator, minibatch_stddev, spectral_norm
        )
    if "cosine_decay_steps" in changes:
        for key in ("d_learning_rate", "g_learning_rate"):
            config[key] = keras.optimizers.schedules.CosineDecay(
                config[key], changes["cosine_decay_steps"]
            )
    gan = run_benchmark.build_gan(config, generator, discriminator, seed)

    averages = {}
    for decay in changes.get("emas", []):
        averages[str(decay)] = (decay, keras.models.clone_model(generator))
    if changes.get("warmup", False):
        averages[WARMUP] = (0.999, keras.models.clone_model(generator))
    for _, average in averages.values():
        average.set_weights(generator.get_weights())
    step = tf.Variable(0.0)

    @tf.function
    def update_averages():
        step.assign_add(1.0)
        for label, (decay, average) in averages.items():
            if label == WARMUP:
                decay = tf.minimum(decay, (1.0 + step) / (10.0 + step))
            for average_weight, weight in zip(
                average.weights, generator.weights, strict=True
            ):
                average_weight.assign(decay * average_weight + (1.0 - decay) * weight)

    class UpdateAverages(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            update_averages()

    budget = run_benchmark.WallClockBudget(minutes * 60)
    callbacks = [budget, UpdateAverages()] if averages else [budget]
    dataset = make_dataset(train_images, config["batch_size"], seed=seed)
    gan.fit(dataset, epochs=1000, callbacks=callbacks, verbose=0)
    images_per_second = (
        (budget.steps - 1) * config["batch_size"] / budget.measured_seconds
    )
    record = {
        "name": name,
        "changes": changes,
        "minutes": minutes,
        "steps": budget.steps,
        "images_per_second": round(images_per_second),
    }
    models = [("trained", generator)]
    models += [(label, average) for label, (_, average) in averages.items()]
    for label, model in models:
        samples = metrics.generate_images(model, 10000, seed=seed)
        results = metrics.evaluate(
            samples,
            test_images,
            train_images,
            classifier=classifier,
            seed=seed,
            verbose=False,
        )
        record[label] = {key: round(results[key], 3) for key in METRIC_KEYS}
        print(name, label, record[label], flush=True)
    record["machine"] = run_benchmark.machine_description()
    record["date_utc"] = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M")
    record["command"] = "PYTHONPATH=. .venv/bin/python benchmarks/tune.py " + " ".join(
        [name, f"'{json.dumps(changes)}'", str(minutes)]
    )
    with open(RESULTS, "a") as file:
        file.write(json.dumps(record) + "\n")


def format_table(results_path=RESULTS):
    """Return a Markdown table with one row per run and generator evaluated."""
    header = ["Run", "Changes", "Steps", "Images/s", "Generator", "FID", "KID", "IS"]
    header += ["Precision", "Recall", "Classes", "Two-sample acc."]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    with open(results_path) as file:
        records = [json.loads(line) for line in file]
    for record in records:
        changes = ", ".join(
            f"{key}={value}"
            for key, value in record["changes"].items()
            if key not in ("emas", "warmup")
        )
        labels = ["trained"] + [
            str(decay) for decay in record["changes"].get("emas", [])
        ]
        if record["changes"].get("warmup", False):
            labels.append(WARMUP)
        for label in labels:
            result = record[label]
            generator = label if label in ("trained", WARMUP) else f"EMA {label}"
            row = [
                record["name"],
                changes,
                str(record["steps"]),
                str(record["images_per_second"]),
                generator,
                f"{result['fid']:.2f}",
                f"{result['kid']:.3f}",
                f"{result['inception_score']:.2f}",
                f"{result['precision']:.3f}",
                f"{result['recall']:.3f}",
                str(result["classes_covered"]),
                f"{result['two_sample_accuracy']:.3f}",
            ]
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:] == ["--table"]:
        print(format_table())
    elif len(sys.argv) == 4:
        main(sys.argv[1], json.loads(sys.argv[2]), float(sys.argv[3]))
    else:
        raise SystemExit(__doc__)
