"""Tests of the GAN model: construction, training steps, sampling and saving."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers, ops

from ganutils import models
from ganutils.data import make_dataset
from ganutils.gan import GAN, draw_latent_vectors

LATENT_DIM = 8
IMAGE_SHAPE = (28, 28, 1)
BATCH_SIZE = 64
REPO_ROOT = Path(__file__).resolve().parent.parent


def build_gan(
    seed=0,
    d_learning_rate=2e-4,
    g_learning_rate=2e-4,
    loss="non_saturating",
    **gan_kwargs,
):
    """Build and compile a small DCGAN for 28x28x1 images."""
    generator, discriminator = models.build_models(
        "dcgan", latent_dim=LATENT_DIM, image_shape=IMAGE_SHAPE, base_filters=8
    )
    gan = GAN(generator, discriminator, LATENT_DIM, seed=seed, **gan_kwargs)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(d_learning_rate, beta_1=0.5),
        g_optimizer=keras.optimizers.Adam(g_learning_rate, beta_1=0.5),
        loss=loss,
    )
    return gan


def trainable_snapshot(model):
    return [weight.numpy() for weight in model.trainable_weights]


def all_weights(gan):
    return gan.generator.get_weights() + gan.discriminator.get_weights()


def weights_equal(first, second):
    return len(first) == len(second) and all(
        np.array_equal(a, b) for a, b in zip(first, second, strict=True)
    )


@pytest.fixture(scope="module")
def real_images(fashion_mnist_train):
    """The first 256 Fashion-MNIST training images, float32 in [-1, 1]."""
    return fashion_mnist_train[0][:256]


@pytest.fixture(scope="module")
def real_batch(real_images):
    return real_images[:BATCH_SIZE]


# Construction and compile errors


def test_gan_shape_mismatch_rejected():
    generator = models.build_dcgan_generator(LATENT_DIM, (32, 32, 3), base_filters=8)
    discriminator = models.build_dcgan_discriminator((28, 28, 1), base_filters=8)
    with pytest.raises(ValueError, match=r"output shape must equal the discriminator"):
        GAN(generator, discriminator, LATENT_DIM)


def test_gan_shape_mismatch_message_gives_shapes():
    generator = models.build_dcgan_generator(LATENT_DIM, (32, 32, 3), base_filters=8)
    discriminator = models.build_dcgan_discriminator((28, 28, 1), base_filters=8)
    with pytest.raises(ValueError, match=r"\(32, 32, 3\).*\(28, 28, 1\)"):
        GAN(generator, discriminator, LATENT_DIM)


def test_gan_latent_dim_mismatch_rejected():
    generator, discriminator = models.build_models(
        "dcgan", latent_dim=16, base_filters=8
    )
    with pytest.raises(ValueError, match=r"does not match latent_dim=8\b"):
        GAN(generator, discriminator, latent_dim=8)


def test_gan_non_model_rejected():
    _, discriminator = models.build_models(
        "dcgan", latent_dim=LATENT_DIM, base_filters=8
    )
    with pytest.raises(TypeError, match=r"generator must be a keras.Model"):
        GAN(lambda z: z, discriminator, LATENT_DIM)


@pytest.mark.parametrize(
    "option, value, expected_message",
    [
        ("d_steps", 0, r"Received: d_steps=0\b"),
        ("gradient_penalty_weight", -1.0, r"Received: gradient_penalty_weight=-1.0"),
        ("ema_decay", 1.0, r"Received: ema_decay=1.0"),
        ("num_classes", 1, r"Received: num_classes=1\b"),
    ],
)
def test_gan_bad_option_rejected(option, value, expected_message):
    generator, discriminator = models.build_models(
        "dcgan", latent_dim=LATENT_DIM, base_filters=8
    )
    with pytest.raises(ValueError, match=expected_message):
        GAN(generator, discriminator, LATENT_DIM, **{option: value})


def test_compile_same_optimizer_rejected():
    generator, discriminator = models.build_models(
        "dcgan", latent_dim=LATENT_DIM, base_filters=8
    )
    gan = GAN(generator, discriminator, LATENT_DIM)
    optimizer = keras.optimizers.Adam(2e-4)
    with pytest.raises(ValueError, match=r"d_optimizer and g_optimizer are the same"):
        gan.compile(d_optimizer=optimizer, g_optimizer=optimizer)


def test_compile_unknown_loss_rejected():
    generator, discriminator = models.build_models(
        "dcgan", latent_dim=LATENT_DIM, base_filters=8
    )
    gan = GAN(generator, discriminator, LATENT_DIM)
    with pytest.raises(ValueError, match=r"Received: loss='bce'"):
        gan.compile(keras.optimizers.Adam(), keras.optimizers.Adam(), loss="bce")


def test_compile_optimizer_names_give_two_instances():
    generator, discriminator = models.build_models(
        "dcgan", latent_dim=LATENT_DIM, base_filters=8
    )
    gan = GAN(generator, discriminator, LATENT_DIM)
    gan.compile(d_optimizer="adam", g_optimizer="adam")
    assert gan.d_optimizer is not gan.g_optimizer
    assert isinstance(gan.d_optimizer, keras.optimizers.Adam)
    assert isinstance(gan.g_optimizer, keras.optimizers.Adam)


def test_compile_builds_both_optimizers():
    gan = build_gan()
    assert gan.d_optimizer.built
    assert gan.g_optimizer.built
    assert int(gan.d_optimizer.iterations) == 0


# Training


def test_fit_fashion_mnist_history(real_images):
    gan = build_gan()
    dataset = make_dataset(real_images, BATCH_SIZE, seed=0)
    history = gan.fit(dataset, epochs=2, verbose=0).history
    assert set(history) == {"d_loss", "g_loss", "d_real", "d_fake"}
    for name, values in history.items():
        assert len(values) == 2, name
        assert np.all(np.isfinite(values)), name
    for name in ("d_real", "d_fake"):
        assert min(history[name]) >= 0.0, name
        assert max(history[name]) <= 1.0, name
    assert int(gan.d_optimizer.iterations) == 8
    assert int(gan.g_optimizer.iterations) == 8


@pytest.mark.parametrize("frozen", ["generator", "discriminator"])
def test_train_step_updates_only_own_weights(frozen, real_batch):
    # A learning rate of 0 freezes one model's own update, so any change to
    # its weights could only come from the other model's update.
    if frozen == "generator":
        gan = build_gan(g_learning_rate=0.0)
        frozen_model, trained_model = gan.generator, gan.discriminator
    else:
        gan = build_gan(d_learning_rate=0.0)
        frozen_model, trained_model = gan.discriminator, gan.generator
    frozen_before = trainable_snapshot(frozen_model)
    trained_before = trainable_snapshot(trained_model)
    gan.train_on_batch(real_batch)
    frozen_after = trainable_snapshot(frozen_model)
    trained_after = trainable_snapshot(trained_model)
    for weight, before, after in zip(
        frozen_model.trainable_weights, frozen_before, frozen_after, strict=True
    ):
        assert np.array_equal(before, after), f"{weight.path} changed"
    for weight, before, after in zip(
        trained_model.trainable_weights, trained_before, trained_after, strict=True
    ):
        assert not np.array_equal(before, after), f"{weight.path} did not change"


def test_sample_latent_new_vectors_each_call():
    gan = build_gan(seed=3)
    first = ops.convert_to_numpy(gan.sample_latent(4))
    second = ops.convert_to_numpy(gan.sample_latent(4))
    assert first.shape == (4, LATENT_DIM)
    assert not np.array_equal(first, second)


def test_sample_latent_reproducible_from_seed():
    first = ops.convert_to_numpy(build_gan(seed=3).sample_latent(4))
    again = ops.convert_to_numpy(build_gan(seed=3).sample_latent(4))
    other = ops.convert_to_numpy(build_gan(seed=4).sample_latent(4))
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_train_step_advances_seed_generator(real_batch):
    gan = build_gan(seed=3)
    state_before = gan.seed_generator.state.numpy()
    gan.train_on_batch(real_batch)
    state_after_one = gan.seed_generator.state.numpy()
    gan.train_on_batch(real_batch)
    state_after_two = gan.seed_generator.state.numpy()
    assert not np.array_equal(state_before, state_after_one)
    assert not np.array_equal(state_after_one, state_after_two)


def test_training_reproducible_from_seed(real_images):
    dataset = make_dataset(real_images[:128], BATCH_SIZE, shuffle=False)
    first, again, other = build_gan(seed=7), build_gan(seed=7), build_gan(seed=8)
    for gan in (again, other):
        gan.generator.set_weights(first.generator.get_weights())
        gan.discriminator.set_weights(first.discriminator.get_weights())
    for gan in (first, again, other):
        gan.fit(dataset, epochs=1, verbose=0)
    assert weights_equal(all_weights(first), all_weights(again))
    assert not weights_equal(all_weights(first), all_weights(other))


def test_d_steps_and_gradient_penalty_train_critic(real_batch):
    gan = build_gan(loss="wasserstein", d_steps=2, gradient_penalty_weight=10.0)
    critic_before = trainable_snapshot(gan.discriminator)
    logs = gan.train_on_batch(real_batch, return_dict=True)
    critic_after = trainable_snapshot(gan.discriminator)
    for weight, before, after in zip(
        gan.discriminator.trainable_weights, critic_before, critic_after, strict=True
    ):
        if weight.path == "logits/bias":
            # The Wasserstein loss mean(fake) - mean(real) and the gradient
            # penalty do not depend on the last bias: its gradient is 0.
            assert np.array_equal(before, after), f"{weight.path} changed"
        else:
            assert not np.array_equal(before, after), f"{weight.path} did not change"
    assert int(gan.d_optimizer.iterations) == 2
    assert int(gan.g_optimizer.iterations) == 1
    for name, value in logs.items():
        assert np.isfinite(value), name


def test_train_step_under_one_device_strategy(real_images):
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    with strategy.scope():
        gan = build_gan()
    dataset = make_dataset(real_images[:128], BATCH_SIZE, seed=0)
    history = gan.fit(dataset, epochs=1, verbose=0).history
    assert set(history) == {"d_loss", "g_loss", "d_real", "d_fake"}
    for name, values in history.items():
        assert np.all(np.isfinite(values)), name
    assert int(gan.d_optimizer.iterations) == 2


TWO_REPLICA_SCRIPT = textwrap.dedent(
    """
    import json
    import sys

    import tensorflow as tf

    # Two logical CPUs, so that MirroredStrategy has two replicas. This must
    # run before TensorFlow initialises its devices.
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )

    import keras
    import numpy as np

    from ganutils import models
    from ganutils.data import make_dataset
    from ganutils.gan import GAN


    def build_gan():
        # No batch normalization, so per-replica batches give the same
        # gradients as the whole batch; SGD, so the loss scale matters.
        generator = models.build_mlp_generator(8, (28, 28, 1), units=(16,))
        discriminator = models.build_mlp_discriminator((28, 28, 1), units=(16,))
        gan = GAN(generator, discriminator, 8, seed=5)
        gan.compile(keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1))
        return gan


    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    single = build_gan()
    with strategy.scope():
        mirrored = build_gan()
    mirrored.set_weights(single.get_weights())

    draw = tf.function(lambda: strategy.run(lambda: mirrored.sample_latent(4)))
    per_replica = [v.numpy() for v in strategy.experimental_local_results(draw())]
    expected = keras.random.normal((8, 8), seed=keras.random.SeedGenerator(5))

    images = np.random.default_rng(0).uniform(-1, 1, (64, 28, 28, 1))
    dataset = make_dataset(images.astype("float32"), 64, shuffle=False)
    mirrored.seed_generator.state.assign(single.seed_generator.state)
    single.fit(dataset, epochs=1, verbose=0)
    history = mirrored.fit(dataset, epochs=1, verbose=0).history
    weight_differences = [
        float(np.abs(a - b).max())
        for a, b in zip(single.get_weights(), mirrored.get_weights())
    ]
    report = {
        "num_replicas": strategy.num_replicas_in_sync,
        "replicas_differ": not np.array_equal(per_replica[0], per_replica[1]),
        "replicas_match_one_device": bool(
            np.allclose(np.concatenate(per_replica), expected, atol=1e-6)
        ),
        "history": history,
        "max_weight_difference": max(weight_differences),
    }
    with open(sys.argv[1], "w") as file:
        json.dump(report, file)
    """
)


def run_script(script, arguments, tmp_path):
    """Run `script` in a new interpreter of this venv; return the result."""
    script_path = tmp_path / "script.py"
    script_path.write_text(script)
    environment = dict(os.environ, PYTHONPATH=str(REPO_ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run(
        [sys.executable, str(script_path), *map(str, arguments)],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_train_step_under_two_replica_strategy(tmp_path):
    # One step on two replicas must match one step on one device: each
    # replica draws its own latent vectors, and its loss is divided by the
    # number of replicas before the gradients are summed.
    report_path = tmp_path / "report.json"
    completed = run_script(TWO_REPLICA_SCRIPT, [report_path], tmp_path)
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(report_path.read_text())
    assert report["num_replicas"] == 2
    assert report["replicas_differ"]
    assert report["replicas_match_one_device"]
    assert set(report["history"]) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert np.all(np.isfinite(report["history"]["d_loss"]))
    assert report["max_weight_difference"] < 1e-5


# Gradient penalty


def build_critic_gan(critic):
    generator = models.build_mlp_generator(LATENT_DIM, IMAGE_SHAPE, units=(8,))
    return GAN(generator, critic, LATENT_DIM, seed=0)


def build_linear_critic(gradient_norm, rng):
    """A critic `w . x + b` whose gradient with respect to x has a set norm."""
    inputs = keras.Input(shape=IMAGE_SHAPE)
    outputs = layers.Dense(1)(layers.Flatten()(inputs))
    critic = keras.Model(inputs, outputs)
    kernel = rng.standard_normal((int(np.prod(IMAGE_SHAPE)), 1))
    kernel *= gradient_norm / np.linalg.norm(kernel)
    critic.set_weights([kernel.astype("float32"), np.array([0.3], "float32")])
    return critic


@pytest.mark.parametrize(
    "gradient_norm, expected_penalty", [(1.0, 0.0), (3.0, 4.0), (0.5, 0.25)]
)
def test_gradient_penalty_linear_critic(gradient_norm, expected_penalty, rng):
    gan = build_critic_gan(build_linear_critic(gradient_norm, rng))
    real = rng.uniform(-1, 1, (16, *IMAGE_SHAPE)).astype("float32")
    generated = rng.uniform(-1, 1, (16, *IMAGE_SHAPE)).astype("float32")
    penalty = float(gan.gradient_penalty(real, generated))
    assert penalty == pytest.approx(expected_penalty, abs=1e-5)


def build_squared_norm_critic():
    """A critic `0.5 * ||x||^2`, whose gradient at x is x itself."""
    inputs = keras.Input(shape=IMAGE_SHAPE)
    outputs = layers.Lambda(
        lambda x: 0.5 * ops.sum(ops.square(x), axis=[1, 2, 3])[:, None]
    )(inputs)
    return keras.Model(inputs, outputs)


def test_gradient_penalty_interpolates_uniformly():
    # Real images at 0 and generated images of norm 1 put x_hat = alpha * x,
    # so the penalty is the mean of (alpha - 1)^2, which is 1/3 for alpha
    # uniform in [0, 1].
    gan = build_critic_gan(build_squared_norm_critic())
    num_images = 2000
    generated = np.zeros((num_images, *IMAGE_SHAPE), "float32")
    generated[:, 0, 0, 0] = 1.0
    real = np.zeros_like(generated)
    penalty = float(gan.gradient_penalty(real, generated))
    assert penalty == pytest.approx(1 / 3, abs=0.03)


def test_gradient_penalty_same_images_ignore_alpha():
    # With real == generated, x_hat = x for any alpha, and ||x|| = 2 here.
    gan = build_critic_gan(build_squared_norm_critic())
    images = np.zeros((8, *IMAGE_SHAPE), "float32")
    images[:, 0, 0, 0] = 2.0
    penalty = float(gan.gradient_penalty(images, images))
    assert penalty == pytest.approx(1.0, rel=1e-5)


# Moving average of the generator


def test_ema_generator_starts_equal_to_generator():
    gan = build_gan(ema_decay=0.9)
    assert gan.ema_generator is not None
    assert gan.ema_generator is not gan.generator
    assert weights_equal(gan.ema_generator.get_weights(), gan.generator.get_weights())


def test_ema_generator_update_formula(real_batch):
    decay = 0.9
    gan = build_gan(ema_decay=decay)
    ema_before = gan.ema_generator.get_weights()
    gan.train_on_batch(real_batch)
    generator_after = gan.generator.get_weights()
    ema_after = gan.ema_generator.get_weights()
    for weight, before, live, ema in zip(
        gan.generator.weights, ema_before, generator_after, ema_after, strict=True
    ):
        expected = decay * before + (1.0 - decay) * live
        np.testing.assert_allclose(ema, expected, atol=1e-6, err_msg=weight.path)
    first_kernel = gan.generator.trainable_weights[0].path
    assert not np.array_equal(ema_after[0], generator_after[0]), first_kernel


def test_generate_uses_ema_generator(real_batch):
    gan = build_gan(ema_decay=0.9)
    gan.train_on_batch(real_batch)
    from_ema = gan.generate(4, seed=1)
    from_live = gan.generate(4, seed=1, use_ema=False)
    expected = ops.convert_to_numpy(
        gan.ema_generator(np.random.default_rng(1).standard_normal((4, LATENT_DIM)))
    )
    assert not np.array_equal(from_ema, from_live)
    np.testing.assert_allclose(from_ema, expected, atol=1e-6)


def test_ema_weights_not_trainable():
    gan = build_gan(ema_decay=0.9)
    assert gan.ema_generator.trainable_weights == []


# Sampling


def test_generate_shape_dtype_range():
    gan = build_gan()
    images = gan.generate(5)
    assert images.shape == (5, *IMAGE_SHAPE)
    assert images.dtype == np.float32
    assert images.min() >= -1.0
    assert images.max() <= 1.0


def test_generate_reproducible_from_seed():
    gan = build_gan()
    assert np.array_equal(gan.generate(3, seed=5), gan.generate(3, seed=5))
    assert not np.array_equal(gan.generate(3, seed=5), gan.generate(3, seed=6))


def test_generate_in_several_batches():
    gan = build_gan()
    whole = gan.generate(7, seed=2, batch_size=256)
    batched = gan.generate(7, seed=2, batch_size=3)
    assert batched.shape == (7, *IMAGE_SHAPE)
    np.testing.assert_allclose(batched, whole, atol=1e-6)


def test_generate_leaves_batch_statistics_alone():
    gan = build_gan()
    before = gan.generator.get_weights()
    gan.generate(8, seed=0)
    assert weights_equal(before, gan.generator.get_weights())


@pytest.mark.parametrize("n", [0, -2, 2.5, True])
def test_generate_bad_count_rejected(n):
    gan = build_gan()
    with pytest.raises(ValueError, match=r"Received: n="):
        gan.generate(n)


def test_generate_truncation_scales_latent_vectors():
    gan = build_gan()
    truncated = gan.generate(4, seed=1, truncation=0.5)
    latent_vectors = 0.5 * np.random.default_rng(1).standard_normal((4, LATENT_DIM))
    expected = ops.convert_to_numpy(gan.generator(latent_vectors, training=False))
    np.testing.assert_allclose(truncated, expected, atol=1e-6)
    assert not np.allclose(truncated, gan.generate(4, seed=1), atol=1e-3)


def test_generate_truncation_one_is_the_prior():
    gan = build_gan()
    np.testing.assert_array_equal(
        gan.generate(3, seed=2, truncation=1.0), gan.generate(3, seed=2)
    )


@pytest.mark.parametrize("truncation", [0, -0.5, float("nan"), float("inf"), 1e39, 2e6])
def test_generate_bad_truncation_value_rejected(truncation):
    gan = build_gan()
    with pytest.raises(ValueError, match=r"Received: truncation="):
        gan.generate(2, truncation=truncation)


@pytest.mark.parametrize("truncation", ["0.5", None, True])
def test_generate_bad_truncation_type_rejected(truncation):
    gan = build_gan()
    with pytest.raises(TypeError, match=r"Received: truncation="):
        gan.generate(2, truncation=truncation)


def test_generate_largest_truncation_finite():
    gan = build_gan()
    latent_vectors = draw_latent_vectors(50, LATENT_DIM, seed=0, truncation=1e6)
    assert latent_vectors.dtype == np.float32
    assert np.all(np.isfinite(latent_vectors))
    assert np.all(np.isfinite(gan.generate(2, truncation=1e6)))


# Saving and loading


def test_save_weights_restores_seed_state(tmp_path):
    gan = build_gan(seed=3)
    gan.sample_latent(4)
    weights_path = tmp_path / "gan.weights.h5"
    gan.save_weights(weights_path)
    restored = build_gan(seed=3)
    restored.load_weights(weights_path)
    expected_state = gan.seed_generator.state.numpy()
    assert np.array_equal(restored.seed_generator.state.numpy(), expected_state)
    next_from_saved = ops.convert_to_numpy(gan.sample_latent(4))
    next_from_restored = ops.convert_to_numpy(restored.sample_latent(4))
    assert np.array_equal(next_from_restored, next_from_saved)


LOAD_AND_TRAIN_SCRIPT = textwrap.dedent(
    """
    import json
    import sys

    import keras
    import numpy as np

    from ganutils.data import make_dataset
    from ganutils.gan import GAN

    model_path, weights_path, report_path = sys.argv[1:]
    gan = keras.models.load_model(model_path)
    np.savez(
        weights_path,
        *gan.generator.get_weights(),
        *gan.discriminator.get_weights(),
        *gan.ema_generator.get_weights(),
        gan.seed_generator.state.numpy(),
    )
    report = {
        "class": f"{type(gan).__module__}.{type(gan).__qualname__}",
        "is_gan": isinstance(gan, GAN),
        "compiled": gan.compiled,
        "loss": gan.loss_name,
        "d_learning_rate": float(gan.d_optimizer.learning_rate),
        "g_learning_rate": float(gan.g_optimizer.learning_rate),
        "d_iterations": int(gan.d_optimizer.iterations),
        "g_iterations": int(gan.g_optimizer.iterations),
    }
    images = np.random.default_rng(0).uniform(-1, 1, (128, 28, 28, 1))
    dataset = make_dataset(images.astype("float32"), 64, seed=0)
    report["history"] = gan.fit(dataset, epochs=1, verbose=0).history
    report["d_iterations_after_fit"] = int(gan.d_optimizer.iterations)
    report["g_iterations_after_fit"] = int(gan.g_optimizer.iterations)
    with open(report_path, "w") as file:
        json.dump(report, file)
    """
)


def test_save_and_load_in_new_process(tmp_path, real_images):
    gan = build_gan(
        seed=11,
        d_learning_rate=3e-4,
        g_learning_rate=1e-4,
        loss="least_squares",
        ema_decay=0.9,
    )
    gan.fit(make_dataset(real_images[:192], BATCH_SIZE, seed=0), epochs=1, verbose=0)
    model_path = tmp_path / "gan.keras"
    gan.save(model_path)
    expected_weights = (
        gan.generator.get_weights()
        + gan.discriminator.get_weights()
        + gan.ema_generator.get_weights()
        + [gan.seed_generator.state.numpy()]
    )

    weights_path, report_path = tmp_path / "loaded.npz", tmp_path / "report.json"
    completed = run_script(
        LOAD_AND_TRAIN_SCRIPT, [model_path, weights_path, report_path], tmp_path
    )
    assert completed.returncode == 0, completed.stderr[-3000:]

    report = json.loads(report_path.read_text())
    assert report["class"] == "ganutils.gan.GAN"
    assert report["is_gan"]
    assert report["compiled"]
    assert report["loss"] == "least_squares"
    assert report["d_learning_rate"] == pytest.approx(3e-4)
    assert report["g_learning_rate"] == pytest.approx(1e-4)
    assert report["d_iterations"] == 3
    assert report["g_iterations"] == 3
    with np.load(weights_path) as loaded:
        loaded_weights = [loaded[f"arr_{i}"] for i in range(len(loaded.files))]
    assert len(loaded_weights) == len(expected_weights)
    for index, (expected, restored) in enumerate(
        zip(expected_weights, loaded_weights, strict=True)
    ):
        assert np.array_equal(expected, restored), f"weight {index} differs"
    assert set(report["history"]) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert np.all(np.isfinite(report["history"]["d_loss"]))
    assert np.all(np.isfinite(report["history"]["g_loss"]))
    assert report["d_iterations_after_fit"] == 5
    assert report["g_iterations_after_fit"] == 5
