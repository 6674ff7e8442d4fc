import keras
import numpy as np
import pytest

from ganutils import diagnostics
from ganutils.diagnostics import (
    Finding,
    StopOnNonFiniteLoss,
    check_discriminator_dominance,
    check_discriminator_losing,
    check_history,
    check_input_range,
    check_logits,
    check_non_finite,
    check_optimizers,
    check_sample_diversity,
    format_findings,
    nearest_neighbour_distances,
    sample_diversity,
)

HEALTHY_HISTORY = {
    "d_loss": [1.30, 1.25, 1.28, 1.31],
    "g_loss": [0.80, 0.85, 0.78, 0.74],
    "d_real": [0.55, 0.57, 0.56, 0.55],
    "d_fake": [0.45, 0.44, 0.45, 0.46],
}
DOMINANT_HISTORY = {
    "d_loss": [0.9, 0.2, 0.03, 0.01],
    "g_loss": [1.5, 3.0, 5.5, 7.0],
    "d_real": [0.7, 0.95, 0.99, 0.995],
    "d_fake": [0.2, 0.05, 0.01, 0.005],
}


def _images(n, seed=0, shape=(8, 8, 1)):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1.0, 1.0, (n, *shape)).astype("float32")


def _smooth_images(n, seed=0):
    """Images that, like real ones, share structure: shifted blurry blobs."""
    rng = np.random.default_rng(seed)
    grid = np.linspace(-1.0, 1.0, 16)
    yy, xx = np.meshgrid(grid, grid, indexing="ij")
    centres = rng.uniform(-0.6, 0.6, (n, 2))
    widths = rng.uniform(0.2, 0.5, (n, 1, 1))
    blobs = np.exp(
        -((yy - centres[:, :1, None]) ** 2 + (xx - centres[:, 1:, None]) ** 2)
        / widths**2
    )
    return (2.0 * blobs - 1.0)[..., None].astype("float32")


def test_finding_str_names_status():
    finding = Finding("input_range", True, "Bad range.")
    assert str(finding) == "[PROBLEM] input_range: Bad range."
    assert str(Finding("input_range", False, "Fine.")) == "[ok] input_range: Fine."


def test_format_findings_lists_problems_first():
    findings = [Finding("a", False, "fine"), Finding("b", True, "broken")]
    lines = format_findings(findings).splitlines()
    assert lines == ["[PROBLEM] b: broken", "[ok] a: fine"]


def test_check_non_finite_finite_history():
    finding = check_non_finite(HEALTHY_HISTORY)
    assert finding.check == "non_finite"
    assert not finding.problem


def test_check_non_finite_names_first_entry_and_metric():
    history = {"d_loss": [1.3, 1.2, np.nan, np.nan], "g_loss": [0.7, 0.8, 0.9, np.inf]}
    finding = check_non_finite(history)
    assert finding.problem
    assert finding.value == 3.0
    assert "entry 3" in finding.message
    assert "d_loss=nan" in finding.message
    assert "g_loss" not in finding.message


def test_check_non_finite_reads_keras_history():
    history = keras.callbacks.History()
    history.history = {"d_loss": [1.0, np.inf]}
    finding = check_non_finite(history)
    assert finding.problem
    assert "d_loss=inf" in finding.message


def test_check_non_finite_rejects_list():
    with pytest.raises(TypeError, match="Received: history of type list"):
        check_non_finite([1.0, 2.0])


def test_check_discriminator_dominance_healthy_history():
    finding = check_discriminator_dominance(HEALTHY_HISTORY)
    assert not finding.problem
    assert finding.value == pytest.approx(np.mean([1.25, 1.28, 1.31]))
    assert finding.threshold == diagnostics.DOMINANT_D_LOSS


def test_check_discriminator_dominance_detects_low_d_loss():
    finding = check_discriminator_dominance(DOMINANT_HISTORY)
    assert finding.problem
    assert "dominates" in finding.message
    assert "g_loss went from 1.50 to 7.00" in finding.message


def test_check_discriminator_dominance_detects_probability_gap():
    # d_loss alone stays above the threshold, but D(x) - D(G(z)) = 0.9.
    history = {"d_loss": [0.4, 0.4], "d_real": [0.95, 0.95], "d_fake": [0.05, 0.05]}
    finding = check_discriminator_dominance(history)
    assert finding.problem
    assert "D(x) - D(G(z)) = 0.90" in finding.message


def test_check_discriminator_dominance_reads_only_window():
    history = {"d_loss": [0.01, 0.01, 1.3, 1.3]}
    assert check_discriminator_dominance(history, window=4).value == pytest.approx(
        0.655
    )
    assert not check_discriminator_dominance(history, window=2).problem


@pytest.mark.parametrize("window", [0, -1, 1.5, True])
def test_check_discriminator_dominance_rejects_window(window):
    with pytest.raises(ValueError, match="window must be a positive int"):
        check_discriminator_dominance(HEALTHY_HISTORY, window=window)


def test_check_discriminator_dominance_needs_d_loss():
    with pytest.raises(ValueError, match="no 'd_loss' values"):
        check_discriminator_dominance({"g_loss": [1.0]})


def test_check_discriminator_losing_healthy_history():
    finding = check_discriminator_losing(HEALTHY_HISTORY)
    assert not finding.problem
    assert finding.threshold == diagnostics.LOSING_D_LOSS


def test_check_discriminator_losing_frozen_discriminator():
    history = {"d_loss": [7.8, 10.0, 10.9], "d_real": [0.56] * 3, "d_fake": [1.0] * 3}
    finding = check_discriminator_losing(history)
    assert finding.problem
    assert finding.value == pytest.approx(np.mean([7.8, 10.0, 10.9]))
    assert "not learning" in finding.message


def test_check_discriminator_losing_needs_d_loss():
    with pytest.raises(ValueError, match="no 'd_loss' values"):
        check_discriminator_losing({"g_loss": [1.0]})


def test_check_history_skips_dominance_when_not_finite():
    findings = check_history({"d_loss": [np.nan, np.nan]})
    assert [finding.check for finding in findings] == ["non_finite"]
    assert findings[0].problem


def test_check_history_runs_both_checks():
    findings = check_history(DOMINANT_HISTORY)
    assert [finding.check for finding in findings] == [
        "non_finite",
        "discriminator_dominance",
        "discriminator_losing",
    ]
    assert [finding.problem for finding in findings] == [False, True, False]


def test_nearest_neighbour_distances_rms_units():
    images = np.stack([np.zeros((2, 2)), np.ones((2, 2)), np.full((2, 2), 0.75)])
    distances = nearest_neighbour_distances(images)
    np.testing.assert_allclose(distances, [0.75, 0.25, 0.25])


def test_sample_diversity_zero_for_copies():
    images = np.repeat(_images(2), 5, axis=0)
    assert sample_diversity(images) == 0.0


@pytest.mark.parametrize("shape", [(1, 4, 4, 1), (5,)])
def test_sample_diversity_rejects_too_few_images(shape):
    with pytest.raises(ValueError, match="at least 2 images"):
        sample_diversity(np.zeros(shape))


def test_check_sample_diversity_same_distribution_passes():
    real_images = _smooth_images(600, seed=0)
    generated_images = _smooth_images(200, seed=1)
    finding = check_sample_diversity(generated_images, real_images)
    assert not finding.problem
    assert 0.7 < finding.value < 1.3


def test_check_sample_diversity_detects_collapse():
    real_images = _smooth_images(600, seed=0)
    generated_images = np.repeat(_smooth_images(4, seed=1), 50, axis=0)
    finding = check_sample_diversity(generated_images, real_images)
    assert finding.problem
    assert finding.value == pytest.approx(0.0, abs=1e-5)
    assert finding.message.startswith("Mode collapse")


def test_check_sample_diversity_flags_noise():
    real_images = _smooth_images(600, seed=0)
    noise = np.random.default_rng(1).uniform(-1, 1, (200, 16, 16, 1))
    finding = check_sample_diversity(noise, real_images)
    assert finding.problem
    assert finding.value > diagnostics.NOISE_DIVERSITY_RATIO
    assert finding.message.startswith("Samples look like noise")


def test_check_sample_diversity_needs_enough_real_images():
    with pytest.raises(ValueError, match="at least as many real images"):
        check_sample_diversity(_images(10), _images(5))


def test_check_input_range_accepts_tanh_range():
    finding = check_input_range(np.linspace(-1.0, 1.0, 11))
    assert not finding.problem


@pytest.mark.parametrize(
    "images, expected_words",
    [
        (np.array([0.0, 128.0, 255.0]), "[0, 255]"),
        (np.array([0.0, 0.5, 1.0]), "[0, 1]"),
        (np.array([-3.0, 0.0, 2.0]), "outside [-1, 1]"),
        (np.array([0.0, np.nan]), "NaN"),
    ],
)
def test_check_input_range_problems(images, expected_words):
    finding = check_input_range(images)
    assert finding.problem
    assert expected_words in finding.message


def test_check_input_range_rejects_empty():
    with pytest.raises(ValueError, match="empty"):
        check_input_range(np.zeros((0, 4)))


def test_check_logits_accepts_logits():
    finding = check_logits(np.linspace(-4.0, 3.0, 50))
    assert not finding.problem
    assert finding.value == pytest.approx(-4.0)


def test_check_logits_detects_probabilities():
    outputs = 1.0 / (1.0 + np.exp(-np.linspace(-4.0, 3.0, 50)))
    finding = check_logits(outputs)
    assert finding.problem
    assert "look like probabilities" in finding.message


def test_check_logits_flags_non_finite():
    finding = check_logits(np.array([0.5, np.nan]))
    assert finding.problem
    assert "NaN" in finding.message


def test_check_logits_rejects_empty():
    with pytest.raises(ValueError, match="empty"):
        check_logits(np.zeros((0, 1)))


def _by_check(findings):
    return {finding.check: finding for finding in findings}


def test_check_optimizers_dcgan_settings_pass():
    findings = check_optimizers(
        keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5)
    )
    assert not any(finding.problem for finding in findings)
    assert [finding.check for finding in findings] == [
        "separate_optimizers",
        "adam_beta_1",
        "adam_beta_1",
        "learning_rate_ratio",
    ]


def test_check_optimizers_shared_object():
    optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5)
    findings = _by_check(check_optimizers(optimizer, optimizer))
    assert findings["separate_optimizers"].problem


def test_check_optimizers_default_beta_1():
    findings = check_optimizers(
        keras.optimizers.Adam(2e-4), keras.optimizers.Adam(2e-4, beta_1=0.5)
    )
    beta_findings = [finding for finding in findings if finding.check == "adam_beta_1"]
    assert [finding.problem for finding in beta_findings] == [True, False]
    assert "d_optimizer is Adam with beta_1=0.9" in beta_findings[0].message


def test_check_optimizers_mismatched_learning_rates():
    findings = _by_check(
        check_optimizers(
            keras.optimizers.Adam(1e-3, beta_1=0.5),
            keras.optimizers.Adam(1e-5, beta_1=0.5),
        )
    )
    finding = findings["learning_rate_ratio"]
    assert finding.problem
    assert finding.value == pytest.approx(100.0)
    assert "the discriminator moves" in finding.message


def test_check_optimizers_two_time_scale_ratio_passes():
    findings = _by_check(
        check_optimizers(keras.optimizers.Adam(4e-4), keras.optimizers.SGD(1e-4))
    )
    assert not findings["learning_rate_ratio"].problem


def test_check_optimizers_rejects_non_optimizer():
    with pytest.raises(TypeError, match="g_optimizer must be a keras.optimizers"):
        check_optimizers(keras.optimizers.Adam(), "adam")


class _NaNAfterModel(keras.Model):
    """A model whose train step reports a NaN loss from step `nan_step` on."""

    def __init__(self, nan_step):
        super().__init__()
        self.nan_step = nan_step
        self.step_counter = keras.Variable(0.0, trainable=False)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def train_step(self, data):
        self.step_counter.assign_add(1.0)
        g_loss = keras.ops.where(self.step_counter >= self.nan_step, float("nan"), 0.7)
        self.d_loss_tracker.update_state(1.3)
        self.g_loss_tracker.update_state(g_loss)
        return {metric.name: metric.result() for metric in self.metrics}


def test_stop_on_non_finite_loss_stops_at_step():
    model = _NaNAfterModel(nan_step=7)
    model.compile()
    callback = StopOnNonFiniteLoss()
    data = np.zeros((40, 2), dtype="float32")
    history = model.fit(data, batch_size=4, epochs=3, callbacks=[callback], verbose=0)
    assert callback.stopped_step == 7
    assert callback.stopped_epoch == 1
    assert callback.loss_name == "g_loss"
    assert np.isnan(callback.value)
    assert "g_loss is nan at step 7 (epoch 1, batch 7)" in callback.message
    assert int(model.step_counter.numpy()) == 7
    assert len(history.history["g_loss"]) == 1


def test_stop_on_non_finite_loss_counts_across_epochs():
    model = _NaNAfterModel(nan_step=13)
    model.compile()
    callback = StopOnNonFiniteLoss(monitor=["g_loss"])
    data = np.zeros((40, 2), dtype="float32")
    model.fit(data, batch_size=4, epochs=3, callbacks=[callback], verbose=0)
    assert callback.stopped_step == 13
    assert callback.stopped_epoch == 2
    assert int(model.step_counter.numpy()) == 13


def test_stop_on_non_finite_loss_ignores_unmonitored(capsys):
    model = _NaNAfterModel(nan_step=2)
    model.compile()
    callback = StopOnNonFiniteLoss(monitor=["d_loss"], verbose=True)
    data = np.zeros((16, 2), dtype="float32")
    model.fit(data, batch_size=4, epochs=2, callbacks=[callback], verbose=0)
    assert callback.stopped_step is None
    assert int(model.step_counter.numpy()) == 8
    assert capsys.readouterr().out == ""


def test_stop_on_non_finite_loss_prints_when_verbose(capsys):
    model = _NaNAfterModel(nan_step=3)
    model.compile()
    callback = StopOnNonFiniteLoss(verbose=True)
    data = np.zeros((16, 2), dtype="float32")
    model.fit(data, batch_size=4, epochs=1, callbacks=[callback], verbose=0)
    assert "Stopped training: g_loss is nan at step 3" in capsys.readouterr().out
