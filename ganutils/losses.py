"""GAN losses computed from discriminator logits.

Label convention, used everywhere in `ganutils`: real images have the label
1 and generated (fake) images have the label 0. The discriminator returns a
logit `l`, and `D(x) = sigmoid(l)` is its probability that `x` is real.

Every loss takes logits, never probabilities. The binary cross-entropy losses
use `log(sigmoid(l)) = -softplus(-l)` and `log(1 - sigmoid(l)) = -softplus(l)`,
which stay finite for logits of any size, where `log(sigmoid(l))` computed
directly would return `-inf` once `sigmoid` rounds to 0 in float32.

Each `*_d_loss` function has the signature
`(real_logits, fake_logits) -> scalar` and each `*_g_loss` function
`(fake_logits) -> scalar`. Both return the mean over the batch.
"""

from keras import ops

REAL_LABEL = 1.0
FAKE_LABEL = 0.0


def _mean(values):
    return ops.mean(ops.cast(values, "float32"))


def minimax_d_loss(real_logits, fake_logits):
    """Compute the discriminator's binary cross-entropy loss.

    The discriminator minimises `-log D(x) - log(1 - D(G(z)))`, that is the
    cross-entropy with label 1 for real images and 0 for generated ones. The
    non-saturating and minimax GANs share this discriminator loss.

    Args:
        real_logits: Logits of D on real images, shape `(batch, 1)` or
            `(batch,)`, any real values.
        fake_logits: Logits of D on generated images, same shape rules.

    Returns:
        Scalar float32 tensor, at least 0. At D(x) = D(G(z)) = 0.5 it equals
        `2 * ln 2 = 1.386`.

    Example:

    >>> float(minimax_d_loss([[0.0]], [[0.0]]))  # doctest: +ELLIPSIS
    1.386...
    """
    real_logits = ops.convert_to_tensor(real_logits, "float32")
    fake_logits = ops.convert_to_tensor(fake_logits, "float32")
    return _mean(ops.softplus(-real_logits)) + _mean(ops.softplus(fake_logits))


def minimax_g_loss(fake_logits):
    """Compute the saturating generator loss of the original minimax game.

    The generator minimises `log(1 - D(G(z)))`. Its gradient vanishes when
    the discriminator confidently rejects the samples (D(G(z)) near 0), which
    is the usual state early in training, so this loss is taught, not used.

    Args:
        fake_logits: Logits of D on generated images.

    Returns:
        Scalar float32 tensor, at most 0: `-ln 2 = -0.693` at D(G(z)) = 0.5.
    """
    fake_logits = ops.convert_to_tensor(fake_logits, "float32")
    return -_mean(ops.softplus(fake_logits))


def non_saturating_g_loss(fake_logits):
    """Compute the non-saturating generator loss `-log D(G(z))`.

    It has the same fixed point as the minimax loss but a strong gradient
    when D(G(z)) is near 0.

    Args:
        fake_logits: Logits of D on generated images.

    Returns:
        Scalar float32 tensor, at least 0: `ln 2 = 0.693` at D(G(z)) = 0.5.

    Example:

    >>> float(non_saturating_g_loss([[0.0]]))  # doctest: +ELLIPSIS
    0.693...
    """
    fake_logits = ops.convert_to_tensor(fake_logits, "float32")
    return _mean(ops.softplus(-fake_logits))


def least_squares_d_loss(real_logits, fake_logits):
    """Compute the least-squares GAN (LSGAN) discriminator loss.

    The raw output is pushed towards 1 on real images and 0 on generated
    ones: `0.5 * (D(x) - 1)^2 + 0.5 * D(G(z))^2`, applied to the raw outputs
    without a sigmoid.

    Args:
        real_logits: Raw outputs of D on real images.
        fake_logits: Raw outputs of D on generated images.

    Returns:
        Scalar float32 tensor, at least 0.
    """
    real_logits = ops.convert_to_tensor(real_logits, "float32")
    fake_logits = ops.convert_to_tensor(fake_logits, "float32")
    real_term = _mean(ops.square(real_logits - REAL_LABEL))
    fake_term = _mean(ops.square(fake_logits - FAKE_LABEL))
    return 0.5 * (real_term + fake_term)


def least_squares_g_loss(fake_logits):
    """Compute the LSGAN generator loss `0.5 * (D(G(z)) - 1)^2`.

    Args:
        fake_logits: Raw outputs of D on generated images.

    Returns:
        Scalar float32 tensor, at least 0.
    """
    fake_logits = ops.convert_to_tensor(fake_logits, "float32")
    return 0.5 * _mean(ops.square(fake_logits - REAL_LABEL))


def hinge_d_loss(real_logits, fake_logits):
    """Compute the hinge discriminator loss.

    `relu(1 - D(x)) + relu(1 + D(G(z)))` on raw outputs: the discriminator
    stops being pushed once real outputs exceed 1 and fake ones fall below -1.

    Args:
        real_logits: Raw outputs of D on real images.
        fake_logits: Raw outputs of D on generated images.

    Returns:
        Scalar float32 tensor, at least 0; 2 when both outputs are 0.
    """
    real_logits = ops.convert_to_tensor(real_logits, "float32")
    fake_logits = ops.convert_to_tensor(fake_logits, "float32")
    return _mean(ops.relu(1.0 - real_logits)) + _mean(ops.relu(1.0 + fake_logits))


def hinge_g_loss(fake_logits):
    """Compute the hinge generator loss `-D(G(z))`.

    Args:
        fake_logits: Raw outputs of D on generated images.

    Returns:
        Scalar float32 tensor, any real value.
    """
    fake_logits = ops.convert_to_tensor(fake_logits, "float32")
    return -_mean(fake_logits)


def wasserstein_d_loss(real_logits, fake_logits):
    """Compute the Wasserstein critic loss `D(G(z)) - D(x)`.

    The critic minimises it, which maximises the estimated Wasserstein-1
    distance `E[D(x)] - E[D(G(z))]`. The estimate only means something when
    the critic is kept about 1-Lipschitz, for example with a gradient penalty
    (`GAN(..., gradient_penalty_weight=10.0)`).

    Args:
        real_logits: Critic scores on real images.
        fake_logits: Critic scores on generated images.

    Returns:
        Scalar float32 tensor, any real value.
    """
    real_logits = ops.convert_to_tensor(real_logits, "float32")
    fake_logits = ops.convert_to_tensor(fake_logits, "float32")
    return _mean(fake_logits) - _mean(real_logits)


def wasserstein_g_loss(fake_logits):
    """Compute the Wasserstein generator loss `-D(G(z))`.

    Args:
        fake_logits: Critic scores on generated images.

    Returns:
        Scalar float32 tensor, any real value.
    """
    fake_logits = ops.convert_to_tensor(fake_logits, "float32")
    return -_mean(fake_logits)


LOSSES = {
    "non_saturating": (minimax_d_loss, non_saturating_g_loss),
    "minimax": (minimax_d_loss, minimax_g_loss),
    "least_squares": (least_squares_d_loss, least_squares_g_loss),
    "hinge": (hinge_d_loss, hinge_g_loss),
    "wasserstein": (wasserstein_d_loss, wasserstein_g_loss),
}


def get_loss(name):
    """Look up the discriminator and generator losses of a GAN variant.

    Args:
        name: One of `"non_saturating"`, `"minimax"`, `"least_squares"`,
            `"hinge"` or `"wasserstein"`.

    Returns:
        A tuple `(d_loss_fn, g_loss_fn)`.

    Raises:
        ValueError: If `name` is not one of the names above.
    """
    if name not in LOSSES:
        raise ValueError(
            f"Unknown GAN loss. Expected one of {sorted(LOSSES)}. "
            f"Received: loss={name!r}"
        )
    return LOSSES[name]
