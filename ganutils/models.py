"""Generator and discriminator builders: an MLP pair and a DCGAN pair.

Every generator maps a latent vector of shape `(batch, latent_dim)` to images
of shape `(batch, height, width, channels)` with values in [-1, 1] (a `tanh`
output). Every discriminator maps such images to one logit per image, shape
`(batch, 1)`, without a sigmoid: the losses in `ganutils.losses` apply it in
a numerically stable way.
"""

import math

import keras
from keras import layers

LEAKY_SLOPE = 0.2


def _check_latent_dim(latent_dim):
    if isinstance(latent_dim, bool) or not isinstance(latent_dim, int):
        raise TypeError(
            f"latent_dim must be a positive int. Received: latent_dim={latent_dim!r}"
        )
    if latent_dim < 1:
        raise ValueError(
            f"latent_dim must be a positive int. Received: latent_dim={latent_dim}"
        )


def _check_image_shape(image_shape):
    valid = (
        isinstance(image_shape, (tuple, list))
        and len(image_shape) == 3
        and all(isinstance(d, int) and not isinstance(d, bool) for d in image_shape)
        and all(d >= 1 for d in image_shape)
    )
    if not valid:
        raise ValueError(
            "image_shape must be (height, width, channels) with three positive "
            f"ints, for example (28, 28, 1). Received: image_shape={image_shape!r}"
        )
    return tuple(image_shape)


def _check_units(units, name):
    if not units or not all(isinstance(u, int) and u >= 1 for u in units):
        raise ValueError(
            f"{name} must be a non-empty sequence of positive ints, for example "
            f"(256, 512). Received: {name}={units!r}"
        )


def dcgan_start_size(image_size):
    """Find the first feature-map size of a DCGAN for a square image size.

    The generator starts from an `s x s` map and doubles it `n` times, so
    `image_size = s * 2**n` with `3 <= s <= 7` and `n >= 1`. For example
    28 = 7 * 2**2, 32 = 4 * 2**3 and 64 = 4 * 2**4.

    Args:
        image_size: Height (equal to width) of the images, in pixels.

    Returns:
        A tuple `(start_size, num_upsamplings)`.

    Raises:
        ValueError: If no such `s` and `n` exist, for example for 30 or 36.
    """
    if isinstance(image_size, bool) or not isinstance(image_size, int):
        raise ValueError(f"image_size must be an int. Received: {image_size!r}")
    size, num_upsamplings = image_size, 0
    while size > 7 and size % 2 == 0:
        size //= 2
        num_upsamplings += 1
    if not (3 <= size <= 7 and num_upsamplings >= 1):
        raise ValueError(
            "A DCGAN doubles its feature maps, so the image size must be "
            "s * 2**n with 3 <= s <= 7 and n >= 1 (for example 28, 32 or 64). "
            f"Received: image_size={image_size}. Resize the images or use the "
            "MLP models, which accept any size."
        )
    return size, num_upsamplings


def build_mlp_generator(latent_dim=64, image_shape=(28, 28, 1), units=(256, 512)):
    """Build a fully connected generator.

    Args:
        latent_dim: Size of the latent vector z.
        image_shape: `(height, width, channels)` of the generated images.
        units: Width of each hidden `Dense` layer, in order.

    Returns:
        A `keras.Model` named `"mlp_generator"` from `(batch, latent_dim)` to
        `(batch, *image_shape)` images in [-1, 1].
    """
    _check_latent_dim(latent_dim)
    image_shape = _check_image_shape(image_shape)
    _check_units(units, "units")
    inputs = keras.Input(shape=(latent_dim,), name="z")
    x = inputs
    for width in units:
        x = layers.Dense(width)(x)
        x = layers.LeakyReLU(negative_slope=LEAKY_SLOPE)(x)
    x = layers.Dense(math.prod(image_shape), activation="tanh")(x)
    outputs = layers.Reshape(image_shape)(x)
    return keras.Model(inputs, outputs, name="mlp_generator")


def build_mlp_discriminator(image_shape=(28, 28, 1), units=(512, 256)):
    """Build a fully connected discriminator that returns logits.

    Args:
        image_shape: `(height, width, channels)` of the input images.
        units: Width of each hidden `Dense` layer, in order.

    Returns:
        A `keras.Model` named `"mlp_discriminator"` from images in [-1, 1] to
        logits of shape `(batch, 1)`.
    """
    image_shape = _check_image_shape(image_shape)
    _check_units(units, "units")
    inputs = keras.Input(shape=image_shape, name="images")
    x = layers.Flatten()(inputs)
    for width in units:
        x = layers.Dense(width)(x)
        x = layers.LeakyReLU(negative_slope=LEAKY_SLOPE)(x)
    outputs = layers.Dense(1, name="logits")(x)
    return keras.Model(inputs, outputs, name="mlp_discriminator")


def build_dcgan_generator(
    latent_dim=64, image_shape=(28, 28, 1), base_filters=32, kernel_size=4
):
    """Build a DCGAN generator of transposed convolutions.

    A `Dense` layer maps z to a `start x start` feature map, then each
    stride-2 `Conv2DTranspose` doubles the size and halves the filters; batch
    normalization and LeakyReLU follow every layer but the last, which uses
    `tanh`. The kernel size should be divisible by the stride (2), because
    other sizes leave a checkerboard pattern in the images.

    Args:
        latent_dim: Size of the latent vector z.
        image_shape: `(size, size, channels)`; see `dcgan_start_size` for the
            sizes that work (28, 32, 64, ...).
        base_filters: Filters of the last hidden layer; earlier layers have
            2, 4, ... times as many.
        kernel_size: Side of the transposed-convolution kernels.

    Returns:
        A `keras.Model` named `"dcgan_generator"` from `(batch, latent_dim)`
        to `(batch, *image_shape)` images in [-1, 1].
    """
    _check_latent_dim(latent_dim)
    height, width, channels = _check_image_shape(image_shape)
    if height != width:
        raise ValueError(
            f"The DCGAN builders make square images. "
            f"Received: image_shape={image_shape}"
        )
    if base_filters < 1:
        raise ValueError(
            f"base_filters must be >= 1. Received: base_filters={base_filters!r}"
        )
    start_size, num_upsamplings = dcgan_start_size(height)
    filters = base_filters * 2 ** (num_upsamplings - 1)

    inputs = keras.Input(shape=(latent_dim,), name="z")
    x = layers.Dense(start_size * start_size * filters, use_bias=False)(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.LeakyReLU(negative_slope=LEAKY_SLOPE)(x)
    x = layers.Reshape((start_size, start_size, filters))(x)
    for _ in range(num_upsamplings - 1):
        filters //= 2
        x = layers.Conv2DTranspose(
            filters, kernel_size, strides=2, padding="same", use_bias=False
        )(x)
        x = layers.BatchNormalization()(x)
        x = layers.LeakyReLU(negative_slope=LEAKY_SLOPE)(x)
    outputs = layers.Conv2DTranspose(
        channels, kernel_size, strides=2, padding="same", activation="tanh"
    )(x)
    return keras.Model(inputs, outputs, name="dcgan_generator")


def build_dcgan_discriminator(
    image_shape=(28, 28, 1), base_filters=32, kernel_size=4, dropout=0.0
):
    """Build a DCGAN discriminator of strided convolutions that returns logits.

    Each stride-2 `Conv2D` halves the size and doubles the filters, followed
    by LeakyReLU. It has no batch normalization, so real and generated
    batches never share batch statistics and a gradient penalty (WGAN-GP)
    can be added later.

    Args:
        image_shape: `(size, size, channels)` of the input images.
        base_filters: Filters of the first convolution.
        kernel_size: Side of the convolution kernels.
        dropout: Dropout rate before the last layer, in [0, 1).

    Returns:
        A `keras.Model` named `"dcgan_discriminator"` from images in [-1, 1]
        to logits of shape `(batch, 1)`.
    """
    height, width, _ = _check_image_shape(image_shape)
    if height != width:
        raise ValueError(
            f"The DCGAN builders take square images. "
            f"Received: image_shape={image_shape}"
        )
    if base_filters < 1:
        raise ValueError(
            f"base_filters must be >= 1. Received: base_filters={base_filters!r}"
        )
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1). Received: dropout={dropout}")
    _, num_downsamplings = dcgan_start_size(height)

    inputs = keras.Input(shape=image_shape, name="images")
    x = inputs
    filters = base_filters
    for _ in range(num_downsamplings):
        x = layers.Conv2D(filters, kernel_size, strides=2, padding="same")(x)
        x = layers.LeakyReLU(negative_slope=LEAKY_SLOPE)(x)
        filters *= 2
    x = layers.Flatten()(x)
    if dropout:
        x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(1, name="logits")(x)
    return keras.Model(inputs, outputs, name="dcgan_discriminator")


def build_models(kind, latent_dim=64, image_shape=(28, 28, 1), **kwargs):
    """Build a matching generator and discriminator pair.

    Args:
        kind: `"mlp"` or `"dcgan"`.
        latent_dim: Size of the latent vector z.
        image_shape: `(height, width, channels)` of the images.
        **kwargs: `units` pairs for the MLP are not accepted here; use the
            single builders for that. For `"dcgan"`, `base_filters` and
            `kernel_size` go to both models.

    Returns:
        A tuple `(generator, discriminator)`.
    """
    if kind == "mlp":
        if kwargs:
            raise ValueError(
                "build_models('mlp') takes no extra options; call "
                "build_mlp_generator and build_mlp_discriminator to set the "
                f"widths. Received: {sorted(kwargs)}"
            )
        return (
            build_mlp_generator(latent_dim, image_shape),
            build_mlp_discriminator(image_shape),
        )
    if kind == "dcgan":
        return (
            build_dcgan_generator(latent_dim, image_shape, **kwargs),
            build_dcgan_discriminator(image_shape, **kwargs),
        )
    raise ValueError(
        f"Unknown model kind. Expected 'mlp' or 'dcgan'. Received: kind={kind!r}"
    )
