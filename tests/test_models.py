"""Tests of the generator and discriminator builders in ganutils.models."""

import keras
import numpy as np
import pytest

from ganutils import models

IMAGE_SHAPES = [(28, 28, 1), (32, 32, 3), (64, 64, 3)]
LATENT_DIM = 8
BATCH_SIZE = 3


def build_pair(kind, image_shape):
    """Build a small generator and discriminator of the given kind."""
    if kind == "mlp":
        generator = models.build_mlp_generator(LATENT_DIM, image_shape, units=(16,))
        discriminator = models.build_mlp_discriminator(image_shape, units=(16,))
        return generator, discriminator
    return models.build_models(
        "dcgan", latent_dim=LATENT_DIM, image_shape=image_shape, base_filters=8
    )


@pytest.mark.parametrize("kind", ["mlp", "dcgan"])
@pytest.mark.parametrize("image_shape", IMAGE_SHAPES)
def test_generator_output_shape(kind, image_shape, rng):
    generator, _ = build_pair(kind, image_shape)
    latent_vectors = rng.standard_normal((BATCH_SIZE, LATENT_DIM)).astype("float32")
    generated_images = np.asarray(generator(latent_vectors, training=False))
    assert generated_images.shape == (BATCH_SIZE, *image_shape)
    assert generated_images.dtype == np.float32


@pytest.mark.parametrize("kind", ["mlp", "dcgan"])
@pytest.mark.parametrize("image_shape", IMAGE_SHAPES)
def test_discriminator_output_shape(kind, image_shape, rng):
    _, discriminator = build_pair(kind, image_shape)
    images = rng.uniform(-1, 1, (BATCH_SIZE, *image_shape)).astype("float32")
    logits = np.asarray(discriminator(images, training=False))
    assert logits.shape == (BATCH_SIZE, 1)


@pytest.mark.parametrize("kind", ["mlp", "dcgan"])
def test_generator_output_within_tanh_range(kind, rng):
    generator, _ = build_pair(kind, (28, 28, 1))
    # Huge latent vectors push the pre-activations far out, where only the
    # tanh keeps the output in [-1, 1].
    latent_vectors = 1e3 * rng.standard_normal((16, LATENT_DIM)).astype("float32")
    generated_images = np.asarray(generator(latent_vectors, training=False))
    assert generated_images.min() >= -1.0
    assert generated_images.max() <= 1.0
    assert np.abs(generated_images).max() > 0.99


@pytest.mark.parametrize("kind", ["mlp", "dcgan"])
def test_discriminator_returns_logits_without_sigmoid(kind, rng):
    _, discriminator = build_pair(kind, (28, 28, 1))
    logits_layer = discriminator.get_layer("logits")
    assert logits_layer.activation is keras.activations.linear
    kernel, bias = logits_layer.get_weights()
    # A bias of -5 makes the logits negative, which a probability cannot be.
    logits_layer.set_weights([kernel, np.full_like(bias, -5.0)])
    images = rng.uniform(-1, 1, (16, 28, 28, 1)).astype("float32")
    logits = np.asarray(discriminator(images, training=False))
    assert logits.min() < 0.0


@pytest.mark.parametrize("kind", ["mlp", "dcgan"])
def test_build_models_names(kind):
    generator, discriminator = models.build_models(kind, latent_dim=LATENT_DIM)
    assert generator.name == f"{kind}_generator"
    assert discriminator.name == f"{kind}_discriminator"
    assert generator.input_shape == (None, LATENT_DIM)
    assert discriminator.output_shape == (None, 1)


@pytest.mark.parametrize(
    "image_size, expected_start_size, expected_num_upsamplings",
    [(14, 7, 1), (28, 7, 2), (32, 4, 3), (48, 6, 3), (64, 4, 4)],
)
def test_dcgan_start_size_valid(
    image_size, expected_start_size, expected_num_upsamplings
):
    start_size, num_upsamplings = models.dcgan_start_size(image_size)
    assert start_size == expected_start_size
    assert num_upsamplings == expected_num_upsamplings


@pytest.mark.parametrize("image_size", [7, 30, 36, 100])
def test_dcgan_start_size_invalid(image_size):
    with pytest.raises(ValueError, match=rf"Received: image_size={image_size}\b"):
        models.dcgan_start_size(image_size)


@pytest.mark.parametrize(
    "builder",
    [models.build_dcgan_generator, models.build_dcgan_discriminator],
)
def test_dcgan_image_size_30_rejected(builder):
    with pytest.raises(ValueError, match=r"Received: image_size=30\b"):
        builder(image_shape=(30, 30, 1), base_filters=8)


@pytest.mark.parametrize(
    "builder",
    [models.build_dcgan_generator, models.build_dcgan_discriminator],
)
def test_dcgan_non_square_rejected(builder):
    with pytest.raises(ValueError, match=r"image_shape=\(28, 32, 1\)"):
        builder(image_shape=(28, 32, 1), base_filters=8)


@pytest.mark.parametrize(
    "builder",
    [models.build_mlp_generator, models.build_dcgan_generator],
)
def test_generator_latent_dim_zero_rejected(builder):
    with pytest.raises(ValueError, match=r"Received: latent_dim=0\b"):
        builder(latent_dim=0)


@pytest.mark.parametrize("latent_dim", ["8", 8.0, True])
def test_generator_latent_dim_wrong_type_rejected(latent_dim):
    with pytest.raises(TypeError, match=r"Received: latent_dim="):
        models.build_mlp_generator(latent_dim=latent_dim)


@pytest.mark.parametrize(
    "image_shape",
    [(28, 28), (28, 28, 0), (28, 28, 1, 1), (28.0, 28, 1), "28x28"],
)
@pytest.mark.parametrize(
    "build",
    [
        lambda shape: models.build_mlp_generator(LATENT_DIM, shape),
        lambda shape: models.build_mlp_discriminator(shape),
        lambda shape: models.build_dcgan_generator(LATENT_DIM, shape),
        lambda shape: models.build_dcgan_discriminator(shape),
    ],
    ids=[
        "mlp_generator",
        "mlp_discriminator",
        "dcgan_generator",
        "dcgan_discriminator",
    ],
)
def test_builder_bad_image_shape_rejected(build, image_shape):
    with pytest.raises(ValueError, match=r"Received: image_shape="):
        build(image_shape)


def test_builder_bad_image_shape_message_names_value():
    with pytest.raises(ValueError, match=r"Received: image_shape=\(28, 28\)"):
        models.build_mlp_discriminator((28, 28))


@pytest.mark.parametrize("units", [(), (16, 0), (16.5,)])
def test_mlp_bad_units_rejected(units):
    with pytest.raises(ValueError, match=r"Received: units="):
        models.build_mlp_generator(LATENT_DIM, units=units)


def test_dcgan_base_filters_zero_rejected():
    with pytest.raises(ValueError, match=r"Received: base_filters=0\b"):
        models.build_dcgan_discriminator(base_filters=0)


@pytest.mark.parametrize("dropout", [-0.1, 1.0])
def test_dcgan_discriminator_bad_dropout_rejected(dropout):
    with pytest.raises(ValueError, match=rf"Received: dropout={dropout}"):
        models.build_dcgan_discriminator(dropout=dropout)


def test_dcgan_discriminator_dropout_layer_added():
    discriminator = models.build_dcgan_discriminator(base_filters=8, dropout=0.3)
    dropout_layers = [
        layer
        for layer in discriminator.layers
        if isinstance(layer, keras.layers.Dropout)
    ]
    assert len(dropout_layers) == 1
    assert dropout_layers[0].rate == pytest.approx(0.3)


def test_dcgan_discriminator_has_no_batch_normalization():
    discriminator = models.build_dcgan_discriminator(base_filters=8)
    for layer in discriminator.layers:
        assert not isinstance(layer, keras.layers.BatchNormalization), layer.name


def test_build_models_mlp_rejects_options():
    with pytest.raises(ValueError, match=r"Received: \['base_filters'\]"):
        models.build_models("mlp", base_filters=8)


def test_build_models_unknown_kind():
    with pytest.raises(ValueError, match=r"Received: kind='wgan'"):
        models.build_models("wgan")
