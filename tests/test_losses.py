"""Tests of ganutils.losses against values worked out by hand."""

import doctest
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from ganutils import losses

LN2 = math.log(2.0)


def softplus(x):
    """Reference softplus `log(1 + e^x)`, valid for the small x used here."""
    return math.log1p(math.exp(x))


def as_float(value):
    return float(np.asarray(value))


# Every loss as a function of (real_logits, fake_logits), for the checks that
# apply to all of them.
ALL_LOSSES = {
    "minimax_d_loss": losses.minimax_d_loss,
    "minimax_g_loss": lambda real, fake: losses.minimax_g_loss(fake),
    "non_saturating_g_loss": lambda real, fake: losses.non_saturating_g_loss(fake),
    "least_squares_d_loss": losses.least_squares_d_loss,
    "least_squares_g_loss": lambda real, fake: losses.least_squares_g_loss(fake),
    "hinge_d_loss": losses.hinge_d_loss,
    "hinge_g_loss": lambda real, fake: losses.hinge_g_loss(fake),
    "wasserstein_d_loss": losses.wasserstein_d_loss,
    "wasserstein_g_loss": lambda real, fake: losses.wasserstein_g_loss(fake),
}


def test_labels_real_is_one_fake_is_zero():
    assert losses.REAL_LABEL == 1.0
    assert losses.FAKE_LABEL == 0.0


def test_minimax_d_loss_zero_logits_is_two_ln2():
    value = losses.minimax_d_loss([[0.0]], [[0.0]])
    assert value.shape == ()
    assert keras.backend.standardize_dtype(value.dtype) == "float32"
    assert as_float(value) == pytest.approx(2 * LN2, rel=1e-6)


def test_minimax_d_loss_logit_two():
    # -log sigmoid(2) = softplus(-2) for the real term and
    # -log(1 - sigmoid(2)) = softplus(2) for the fake term.
    value = losses.minimax_d_loss([[2.0]], [[2.0]])
    assert as_float(value) == pytest.approx(softplus(-2.0) + softplus(2.0), rel=1e-6)


def test_minimax_d_loss_means_over_batch():
    real_logits = [[0.0], [2.0]]
    fake_logits = [[-2.0], [0.0]]
    expected = (LN2 + softplus(-2.0)) / 2 + (softplus(-2.0) + LN2) / 2
    value = losses.minimax_d_loss(real_logits, fake_logits)
    assert as_float(value) == pytest.approx(expected, rel=1e-6)


def test_minimax_d_loss_flat_and_column_shapes_agree():
    column = losses.minimax_d_loss([[0.5], [-1.0]], [[1.5], [0.0]])
    flat = losses.minimax_d_loss([0.5, -1.0], [1.5, 0.0])
    assert as_float(column) == pytest.approx(as_float(flat), rel=1e-6)


def test_minimax_g_loss_values():
    assert as_float(losses.minimax_g_loss([[0.0]])) == pytest.approx(-LN2, rel=1e-6)
    expected = -softplus(2.0)
    assert as_float(losses.minimax_g_loss([[2.0]])) == pytest.approx(expected, rel=1e-6)


def test_non_saturating_g_loss_values():
    value_at_zero = losses.non_saturating_g_loss([[0.0]])
    value_at_two = losses.non_saturating_g_loss([[2.0]])
    assert as_float(value_at_zero) == pytest.approx(LN2, rel=1e-6)
    assert as_float(value_at_two) == pytest.approx(softplus(-2.0), rel=1e-6)


def test_least_squares_d_loss_values():
    # 0.5 * ((2 - 1)^2 + (-1 - 0)^2) = 1.
    value = losses.least_squares_d_loss([[2.0]], [[-1.0]])
    assert as_float(value) == pytest.approx(1.0, rel=1e-6)
    # 0.5 * (mean((0 - 1)^2, (1 - 1)^2) + mean(0.5^2, 0^2)) = 0.5 * (0.5 + 0.125).
    value = losses.least_squares_d_loss([[0.0], [1.0]], [[0.5], [0.0]])
    assert as_float(value) == pytest.approx(0.3125, rel=1e-6)


def test_least_squares_g_loss_values():
    assert as_float(losses.least_squares_g_loss([[3.0]])) == pytest.approx(2.0)
    assert as_float(losses.least_squares_g_loss([[1.0]])) == pytest.approx(0.0)


def test_hinge_d_loss_values():
    assert as_float(losses.hinge_d_loss([[0.0]], [[0.0]])) == pytest.approx(2.0)
    # relu(1 - 0.5) + relu(1 - 0.25) = 1.25.
    value = losses.hinge_d_loss([[0.5]], [[-0.25]])
    assert as_float(value) == pytest.approx(1.25, rel=1e-6)
    # Outputs past the margins contribute nothing.
    assert as_float(losses.hinge_d_loss([[2.0]], [[-3.0]])) == 0.0


def test_hinge_g_loss_values():
    assert as_float(losses.hinge_g_loss([[1.5], [-0.5]])) == pytest.approx(-0.5)


def test_wasserstein_d_loss_values():
    # mean(fake) - mean(real) = 0 - 2.
    value = losses.wasserstein_d_loss([[1.0], [3.0]], [[0.5], [-0.5]])
    assert as_float(value) == pytest.approx(-2.0)


def test_wasserstein_g_loss_values():
    assert as_float(losses.wasserstein_g_loss([[1.0], [3.0]])) == pytest.approx(-2.0)


@pytest.mark.parametrize(
    "name, real_logit, fake_logit",
    [
        ("minimax_d_loss", 20.0, -20.0),
        ("least_squares_d_loss", 1.0, 0.0),
        ("hinge_d_loss", 20.0, -20.0),
    ],
)
def test_d_loss_confident_right_near_zero(name, real_logit, fake_logit):
    # Real = 1, fake = 0: a discriminator that is sure and right has almost
    # no loss, and the same outputs with real and fake swapped cost a lot.
    d_loss_fn = ALL_LOSSES[name]
    right = d_loss_fn([[real_logit]], [[fake_logit]])
    wrong = d_loss_fn([[fake_logit]], [[real_logit]])
    assert as_float(right) == pytest.approx(0.0, abs=1e-6)
    assert as_float(wrong) > 0.9


def test_minimax_d_loss_confident_wrong_large():
    value = losses.minimax_d_loss([[-20.0]], [[20.0]])
    assert as_float(value) == pytest.approx(40.0, rel=1e-6)


def test_g_losses_prefer_fakes_scored_real():
    # Each generator loss must fall when D scores the fakes as more real.
    for name in ("minimax_g_loss", "non_saturating_g_loss", "hinge_g_loss"):
        loss_fn = ALL_LOSSES[name]
        scored_real = as_float(loss_fn(None, [[3.0]]))
        scored_fake = as_float(loss_fn(None, [[-3.0]]))
        assert scored_real < scored_fake, name
    least_squares = ALL_LOSSES["least_squares_g_loss"]
    scored_real = as_float(least_squares(None, [[1.0]]))
    scored_fake = as_float(least_squares(None, [[0.0]]))
    assert scored_real < scored_fake


@pytest.mark.parametrize("name", sorted(ALL_LOSSES))
@pytest.mark.parametrize("real_logit, fake_logit", [(1e4, -1e4), (-1e4, 1e4)])
def test_loss_finite_for_huge_logits(name, real_logit, fake_logit):
    value = ALL_LOSSES[name]([[real_logit], [0.0]], [[fake_logit], [0.0]])
    assert np.isfinite(as_float(value))


def test_minimax_d_loss_huge_wrong_logits_exact():
    # softplus(1e4) = 1e4 to float32 precision, so both terms are 1e4.
    value = losses.minimax_d_loss([[-1e4]], [[1e4]])
    assert as_float(value) == pytest.approx(2e4, rel=1e-6)


def test_non_saturating_g_loss_huge_negative_logit_exact():
    # Computed as -log(sigmoid(-1e4)) directly this would be inf in float32.
    assert as_float(losses.non_saturating_g_loss([[-1e4]])) == pytest.approx(1e4)


def _gradient_wrt_logit(loss_fn, logit):
    logits = tf.Variable([[logit]], dtype="float32")
    with tf.GradientTape() as tape:
        value = loss_fn(logits)
    return float(tape.gradient(value, logits).numpy()[0, 0])


def test_minimax_g_loss_gradient_vanishes_when_d_rejects():
    # At logit -10, D(G(z)) = sigmoid(-10) = 4.5e-5, and
    # d/dl log(1 - sigmoid(l)) = -sigmoid(l).
    gradient = _gradient_wrt_logit(losses.minimax_g_loss, -10.0)
    expected = -1.0 / (1.0 + math.exp(10.0))
    assert gradient == pytest.approx(expected, rel=1e-4)
    assert abs(gradient) < 1e-4


def test_non_saturating_g_loss_gradient_strong_when_d_rejects():
    # d/dl -log(sigmoid(l)) = -(1 - sigmoid(l)), close to -1 at logit -10.
    gradient = _gradient_wrt_logit(losses.non_saturating_g_loss, -10.0)
    expected = -1.0 / (1.0 + math.exp(-10.0))
    assert gradient == pytest.approx(expected, rel=1e-4)
    assert abs(gradient) > 0.99


@pytest.mark.parametrize("name", sorted(losses.LOSSES))
def test_get_loss_known_names(name):
    d_loss_fn, g_loss_fn = losses.get_loss(name)
    assert callable(d_loss_fn)
    assert callable(g_loss_fn)
    assert np.isfinite(as_float(d_loss_fn([[0.5]], [[-0.5]])))
    assert np.isfinite(as_float(g_loss_fn([[-0.5]])))


def test_get_loss_pairs():
    assert losses.get_loss("non_saturating") == (
        losses.minimax_d_loss,
        losses.non_saturating_g_loss,
    )
    assert losses.get_loss("wasserstein") == (
        losses.wasserstein_d_loss,
        losses.wasserstein_g_loss,
    )


def test_get_loss_unknown_name():
    with pytest.raises(ValueError, match=r"Received: loss='vanilla'"):
        losses.get_loss("vanilla")


def test_get_loss_unknown_name_lists_choices():
    with pytest.raises(ValueError, match=r"Expected one of \[.*'non_saturating'"):
        losses.get_loss("vanilla")


def test_losses_doctests():
    results = doctest.testmod(losses, optionflags=doctest.ELLIPSIS)
    assert results.attempted >= 2
    assert results.failed == 0
