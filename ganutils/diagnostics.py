"""Checks that name what is going wrong in a GAN run, in plain words.

Notebook 04 (`04_common_mistakes.ipynb`) reproduces each problem these checks
detect. Every check returns a `Finding`: whether it found a problem, a
message that names it and the usual fix, the value measured and the threshold
it was compared with. The thresholds and the reasons for them:

- Discriminator dominance (`check_discriminator_dominance`): the binary
  cross-entropy discriminator loss of `ganutils.losses.minimax_d_loss` is
  `2 ln 2 = 1.386` when D cannot tell real from generated images, and the
  non-saturating generator loss is `ln 2 = 0.693`. A mean `d_loss` below 0.1
  means D classifies correctly with a probability of about 0.95 or more on
  both kinds of images (`-2 ln 0.95 = 0.103`), so the generator's gradient
  carries little information. A gap `d_real - d_fake` above 0.8 means the same
  in probabilities.
- A discriminator that stops learning (`check_discriminator_losing`): a mean
  `d_loss` above 2.0, well above the 1.386 of a discriminator that guesses,
  means D scores generated images as more real than real ones, as happens
  when it is frozen or its learning rate is 0.
- Mode collapse (`check_sample_diversity`): the median distance from each
  sample to its nearest other sample, divided by the same median on real
  images. On Fashion-MNIST batches of 256, two real batches give a ratio of
  about 1.0, four images repeated 64 times give 0.0, one image with small
  noise 0.18, and uniform noise 2.1. Young but healthy MLP generators (150
  steps on Fashion-MNIST) measured 0.45 to 0.55, and a generator made to
  collapse (5 generator steps per discriminator step) 0.09 to 0.12. Below
  0.3 the generator repeats itself; above 1.5 the samples are further apart
  than real images are, which is what noise looks like, so noise is flagged
  rather than rewarded.
- Non-finite losses (`check_non_finite`): any NaN or infinity.
- Input range (`check_input_range`): the generator's `tanh` output lies in
  [-1, 1], so real images must too. Images in [0, 255] or [0, 1] let the
  discriminator separate real from generated images by their range alone.
- Logits (`check_logits`): the losses apply the sigmoid themselves, so a
  discriminator whose outputs all lie in [0, 1] most likely ends in a
  sigmoid and hands them probabilities.
- Optimizers (`check_optimizers`): one optimizer object for both models,
  Adam's default `beta_1 = 0.9`, and learning rates more than 10 times
  apart. Radford, Metz and Chintala ("Unsupervised Representation Learning
  with Deep Convolutional Generative Adversarial Networks", 2015) found that
  `beta_1 = 0.9` made DCGAN training oscillate and used 0.5. The factor of
  10 is a loose limit, because the two time-scale update rule (Heusel et
  al., 2017) gives the two models different learning rates on purpose.

`StopOnNonFiniteLoss` is a callback that stops `fit` at the first step whose
logs contain a NaN or an infinity and stores which step and which loss.
"""

import dataclasses
import math

import keras
import numpy as np

# Discriminator dominance, for the binary cross-entropy losses.
DOMINANT_D_LOSS = 0.1
DOMINANT_PROBABILITY_GAP = 0.8
LOSING_D_LOSS = 2.0
# Ratio of the median nearest-neighbour distance of samples to that of real
# images. The measurements behind these values are in the module docstring.
COLLAPSE_DIVERSITY_RATIO = 0.3
NOISE_DIVERSITY_RATIO = 1.5
# Input range: values may exceed [-1, 1] by this much (float rounding).
RANGE_TOLERANCE = 1e-3
# Optimizers.
MAX_BETA_1 = 0.5
MAX_LEARNING_RATE_RATIO = 10.0


@dataclasses.dataclass(frozen=True)
class Finding:
    """The result of one check.

    Attributes:
        check: Name of the check, for example `"discriminator_dominance"`.
        problem: `True` when the check found a problem.
        message: What was measured and, for a problem, the usual fix.
        value: The measured value, or `None` when there is no single value.
        threshold: The value it was compared with, or `None`.
    """

    check: str
    problem: bool
    message: str
    value: float | None = None
    threshold: float | None = None

    def __str__(self):
        status = "PROBLEM" if self.problem else "ok"
        return f"[{status}] {self.check}: {self.message}"


def format_findings(findings):
    """Join findings into one line each, problems first.

    Args:
        findings: An iterable of `Finding`.

    Returns:
        A string with one line per finding.
    """
    ordered = sorted(findings, key=lambda finding: not finding.problem)
    return "\n".join(str(finding) for finding in ordered)


def _history_dict(history):
    """Return `{metric name: 1-D float64 array}` from a History or a dict."""
    if isinstance(history, keras.callbacks.History):
        history = history.history
    if not isinstance(history, dict):
        raise TypeError(
            "history must be a keras.callbacks.History or a dict of lists. "
            f"Received: history of type {type(history).__name__}"
        )
    return {
        name: np.asarray(values, dtype="float64").reshape(-1)
        for name, values in history.items()
    }


def check_non_finite(history):
    """Look for NaN or infinite values in a training history.

    Args:
        history: A `keras.callbacks.History` or a dict that maps metric
            names to lists of values, one per epoch (or per step).

    Returns:
        A `Finding` named `"non_finite"`. For a problem, the message names
        the first entry (counted from 1) and every metric that is not finite
        there.
    """
    values = _history_dict(history)
    first_bad = None
    for series in values.values():
        bad = np.flatnonzero(~np.isfinite(series))
        if bad.size and (first_bad is None or bad[0] < first_bad):
            first_bad = int(bad[0])
    if first_bad is None:
        return Finding("non_finite", False, "All values are finite.")
    names = [
        f"{name}={series[first_bad]}"
        for name, series in values.items()
        if first_bad < series.size and not np.isfinite(series[first_bad])
    ]
    message = (
        f"Non-finite values at entry {first_bad + 1}: {', '.join(names)}. Usual "
        "causes: a learning rate that is too high, images outside [-1, 1], a "
        "log of a probability that rounded to 0 (pass logits to the loss), or a "
        "division by a batch statistic near 0."
    )
    return Finding("non_finite", True, message, value=float(first_bad + 1))


def _last(series, window):
    return series[-min(window, series.size) :]


def _windowed_d_loss(history, window):
    """Return the history as a dict and its mean `d_loss` over `window` entries."""
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ValueError(f"window must be a positive int. Received: window={window!r}")
    values = _history_dict(history)
    if values.get("d_loss") is None or values["d_loss"].size == 0:
        raise ValueError(
            "The history has no 'd_loss' values. Expected the metrics of "
            f"ganutils.GAN.fit. Received metrics: {sorted(values)}"
        )
    return values, float(np.mean(_last(values["d_loss"], window)))


def check_discriminator_dominance(
    history,
    window=3,
    d_loss_threshold=DOMINANT_D_LOSS,
    gap_threshold=DOMINANT_PROBABILITY_GAP,
):
    """Check whether the discriminator wins so clearly that G stops learning.

    Applies to the binary cross-entropy losses (`"non_saturating"` and
    `"minimax"`), whose `d_loss` is 1.386 at the balance point and 0 for a
    perfect discriminator. It reads the last `window` entries.

    Args:
        history: A `keras.callbacks.History` or a dict with a `"d_loss"`
            list and optionally `"g_loss"`, `"d_real"` (mean D(x)) and
            `"d_fake"` (mean D(G(z))), as `ganutils.GAN.fit` records them.
        window: Number of final entries averaged.
        d_loss_threshold: Mean `d_loss` below which D dominates.
        gap_threshold: Mean `d_real - d_fake` above which D dominates.

    Returns:
        A `Finding` named `"discriminator_dominance"` whose `value` is the
        mean `d_loss` over the window.

    Raises:
        ValueError: If the history has no `"d_loss"` values, or `window` is
            not a positive int.
    """
    values, d_loss = _windowed_d_loss(history, window)
    parts = [f"mean d_loss over the last {window} entries is {d_loss:.3f}"]
    gap = None
    if "d_real" in values and "d_fake" in values:
        gap = float(
            np.mean(_last(values["d_real"], window))
            - np.mean(_last(values["d_fake"], window))
        )
        parts.append(f"D(x) - D(G(z)) = {gap:.2f}")
    if "g_loss" in values and values["g_loss"].size > 1:
        g_loss = values["g_loss"]
        parts.append(f"g_loss went from {g_loss[0]:.2f} to {g_loss[-1]:.2f}")
    summary = "; ".join(parts)
    dominant = d_loss < d_loss_threshold or (gap is not None and gap > gap_threshold)
    if not dominant:
        message = (
            f"{summary}. The balance point is d_loss = 1.386, and D dominates "
            f"below {d_loss_threshold} (or above a gap of {gap_threshold})."
        )
        return Finding(
            "discriminator_dominance", False, message, d_loss, d_loss_threshold
        )
    message = (
        f"The discriminator dominates: {summary}. It separates real from "
        "generated images almost perfectly, so the generator's gradient says "
        "little. Check that real images are in [-1, 1] like the generator's "
        "output, use the non-saturating generator loss, lower D's learning "
        "rate or capacity, or add label smoothing, dropout or noise to D."
    )
    return Finding("discriminator_dominance", True, message, d_loss, d_loss_threshold)


def check_discriminator_losing(history, window=3, d_loss_threshold=LOSING_D_LOSS):
    """Check whether the discriminator does worse than guessing.

    Applies to the binary cross-entropy losses. A discriminator that outputs
    0.5 for every image has `d_loss = 2 ln 2 = 1.386`. A mean `d_loss` above
    `d_loss_threshold` over the last `window` entries means it rates
    generated images as more real than real ones, because it has stopped
    learning (frozen, a learning rate of 0, or updates that never reach it).

    Args:
        history: A `keras.callbacks.History` or a dict with a `"d_loss"`
            list, as `ganutils.GAN.fit` records it.
        window: Number of final entries averaged.
        d_loss_threshold: Mean `d_loss` above which D is losing.

    Returns:
        A `Finding` named `"discriminator_losing"` whose `value` is the mean
        `d_loss` over the window.

    Raises:
        ValueError: If the history has no `"d_loss"` values, or `window` is
            not a positive int.
    """
    values, d_loss = _windowed_d_loss(history, window)
    measured = f"mean d_loss over the last {window} entries is {d_loss:.3f}"
    if d_loss > d_loss_threshold:
        message = (
            f"The discriminator is losing: {measured}, above {d_loss_threshold} "
            "(a discriminator that guesses scores 1.386). It rates generated "
            "images as more real than real ones, so it is not learning. Check "
            "that it is not frozen and that its optimizer updates its weights."
        )
        return Finding("discriminator_losing", True, message, d_loss, d_loss_threshold)
    message = f"{measured}, not above {d_loss_threshold}."
    return Finding("discriminator_losing", False, message, d_loss, d_loss_threshold)


def check_history(history, window=3):
    """Run the checks that read a training history.

    The discriminator's balance is only judged when every value is finite.

    Args:
        history: A `keras.callbacks.History` or a dict of lists from
            `ganutils.GAN.fit`.
        window: Number of final entries the dominance check averages.

    Returns:
        A list of `Finding`: `"non_finite"`, then `"discriminator_dominance"`
        and `"discriminator_losing"` when the history is finite and has
        `"d_loss"`.
    """
    findings = [check_non_finite(history)]
    if not findings[0].problem and "d_loss" in _history_dict(history):
        findings.append(check_discriminator_dominance(history, window=window))
        findings.append(check_discriminator_losing(history, window=window))
    return findings


def _flatten_images(images, name):
    images = np.asarray(images, dtype="float64")
    if images.ndim < 2 or images.shape[0] < 2:
        raise ValueError(
            f"{name} must be a batch of at least 2 images, shape (n, ...). "
            f"Received: {name} of shape {images.shape}"
        )
    if not np.all(np.isfinite(images)):
        raise ValueError(f"{name} contain NaN or infinite values.")
    return images.reshape(images.shape[0], -1)


def nearest_neighbour_distances(images):
    """Compute each image's distance to its nearest other image in the batch.

    The distance is the root-mean-square pixel difference, so it does not
    grow with the image size: for images in [-1, 1] it lies in [0, 2].

    Args:
        images: Array `(n, ...)` with n >= 2.

    Returns:
        float64 array `(n,)`.
    """
    flat = _flatten_images(images, "images")
    squared_norms = np.sum(flat**2, axis=1)
    squared = squared_norms[:, None] + squared_norms[None, :] - 2.0 * flat @ flat.T
    squared = np.maximum(squared, 0.0) / flat.shape[1]
    np.fill_diagonal(squared, np.inf)
    return np.sqrt(np.min(squared, axis=1))


def sample_diversity(images):
    """Measure how far apart the images of a batch are.

    Args:
        images: Array `(n, ...)` with n >= 2.

    Returns:
        The median nearest-neighbour distance (see
        `nearest_neighbour_distances`), a float >= 0; 0 when every image
        has an exact copy in the batch.
    """
    return float(np.median(nearest_neighbour_distances(images)))


def check_sample_diversity(
    generated_images,
    real_images,
    collapse_ratio=COLLAPSE_DIVERSITY_RATIO,
    noise_ratio=NOISE_DIVERSITY_RATIO,
    seed=0,
):
    """Check generated samples for mode collapse by comparing their diversity.

    The nearest-neighbour distance depends on the batch size, so the real
    images are subsampled (with `seed`) to as many as there are generated
    ones. Use at least about 100 of each.

    Args:
        generated_images: Array `(n, height, width, channels)` in [-1, 1].
        real_images: Array `(m, height, width, channels)` in [-1, 1] with
            m >= n.
        collapse_ratio: Ratio below which the samples count as collapsed.
        noise_ratio: Ratio above which the samples look like noise.
        seed: Seed of the real-image subsample.

    Returns:
        A `Finding` named `"sample_diversity"` whose `value` is the ratio
        `sample_diversity(generated) / sample_diversity(real)`, about 1 for
        a healthy generator.

    Raises:
        ValueError: If there are fewer real than generated images, or either
            batch has fewer than 2 images.
    """
    generated_images = np.asarray(generated_images)
    real_images = np.asarray(real_images)
    if len(real_images) < len(generated_images):
        raise ValueError(
            "Expected at least as many real images as generated ones. Received: "
            f"{len(real_images)} real and {len(generated_images)} generated."
        )
    rng = np.random.default_rng(seed)
    subset = rng.choice(len(real_images), size=len(generated_images), replace=False)
    real_diversity = sample_diversity(real_images[subset])
    generated_diversity = sample_diversity(generated_images)
    ratio = generated_diversity / max(real_diversity, 1e-12)
    measured = (
        f"diversity ratio {ratio:.2f} (median nearest-neighbour distance "
        f"{generated_diversity:.3f} for samples, {real_diversity:.3f} for real "
        "images)"
    )
    if ratio < collapse_ratio:
        message = (
            f"Mode collapse: {measured}, below {collapse_ratio}. Different "
            "latent vectors give the same few images. Usual fixes: a weaker or "
            "better-regularized discriminator, a lower generator learning rate, "
            "minibatch discrimination, or a Wasserstein loss with gradient penalty."
        )
        return Finding("sample_diversity", True, message, ratio, collapse_ratio)
    if ratio > noise_ratio:
        message = (
            f"Samples look like noise: {measured}, above {noise_ratio}. They are "
            "further apart than real images are, which untrained or diverging "
            "generators produce. Train longer or check the losses."
        )
        return Finding("sample_diversity", True, message, ratio, noise_ratio)
    message = f"{measured}, inside [{collapse_ratio}, {noise_ratio}]."
    return Finding("sample_diversity", False, message, ratio, collapse_ratio)


def check_input_range(images, tolerance=RANGE_TOLERANCE):
    """Check that images lie in [-1, 1], the range of a `tanh` generator.

    Args:
        images: Array of any shape with at least one value.
        tolerance: How far values may lie outside [-1, 1].

    Returns:
        A `Finding` named `"input_range"` whose `value` is the maximum.
        Images in [0, 255], in [0, 1], outside [-1, 1] or not finite are
        problems.

    Raises:
        ValueError: If `images` is empty.
    """
    images = np.asarray(images, dtype="float64")
    if images.size == 0:
        raise ValueError(f"images is empty. Received shape {images.shape}.")
    if not np.all(np.isfinite(images)):
        return Finding("input_range", True, "Images contain NaN or infinite values.")
    low, high = float(images.min()), float(images.max())
    measured = f"values in [{low:g}, {high:g}]"
    if high > 1.0 + tolerance and low >= 0.0:
        message = (
            f"Images look like raw pixels in [0, 255] ({measured}), but the "
            "generator's tanh output lies in [-1, 1], so the discriminator can "
            "tell them apart by range alone. Scale with images / 127.5 - 1."
        )
        return Finding("input_range", True, message, high, 1.0)
    if high > 1.0 + tolerance or low < -1.0 - tolerance:
        message = (
            f"Images lie outside [-1, 1] ({measured}). Rescale them linearly "
            "to [-1, 1], the range of the generator's tanh output."
        )
        return Finding("input_range", True, message, high, 1.0)
    if low >= 0.0 and high > 0.5:
        message = (
            f"Images look scaled to [0, 1] ({measured}), while the generator "
            "can output [-1, 1]. Scale with images * 2 - 1."
        )
        return Finding("input_range", True, message, high, 1.0)
    return Finding("input_range", False, f"{measured}, inside [-1, 1].", high, 1.0)


def check_logits(outputs, tolerance=RANGE_TOLERANCE):
    """Check that discriminator outputs look like logits, not probabilities.

    The losses in `ganutils.losses` apply the sigmoid themselves. A
    discriminator that ends in a sigmoid hands them probabilities, which
    they read as logits in [0, 1], so D(x) can never leave
    [sigmoid(0), sigmoid(1)] = [0.5, 0.73] and the discriminator cannot
    learn. Outputs that all lie in [0, 1] are taken as probabilities. Use a
    batch of at least a few dozen images of both kinds, because a few
    logits can lie in [0, 1] by chance.

    Args:
        outputs: Raw discriminator outputs on real and generated images,
            any shape.
        tolerance: How far values may lie outside [0, 1] and still count as
            probabilities.

    Returns:
        A `Finding` named `"logits"` whose `value` is the smallest output.

    Raises:
        ValueError: If `outputs` is empty.
    """
    outputs = np.asarray(outputs, dtype="float64")
    if outputs.size == 0:
        raise ValueError(f"outputs is empty. Received shape {outputs.shape}.")
    if not np.all(np.isfinite(outputs)):
        return Finding("logits", True, "Discriminator outputs contain NaN or infinity.")
    low, high = float(outputs.min()), float(outputs.max())
    measured = f"outputs in [{low:.3g}, {high:.3g}]"
    if low >= -tolerance and high <= 1.0 + tolerance:
        message = (
            f"The discriminator's {measured} look like probabilities, but the "
            "GAN losses expect logits and apply the sigmoid themselves. Remove "
            "the final sigmoid activation (or use a loss built for probabilities)."
        )
        return Finding("logits", True, message, low, 0.0)
    return Finding("logits", False, f"{measured}, not confined to [0, 1].", low, 0.0)


def _learning_rate(optimizer):
    rate = optimizer.learning_rate
    if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
        return None
    return float(keras.ops.convert_to_tensor(rate))


def check_optimizers(d_optimizer, g_optimizer):
    """Check the two optimizers for the usual GAN set-up mistakes.

    Args:
        d_optimizer: The discriminator's `keras.optimizers.Optimizer`.
        g_optimizer: The generator's `keras.optimizers.Optimizer`.

    Returns:
        A list of `Finding`: `"separate_optimizers"`, `"adam_beta_1"` (one
        per Adam optimizer) and `"learning_rate_ratio"` (skipped when a
        learning rate is a schedule).

    Raises:
        TypeError: If either argument is not a Keras optimizer.
    """
    for name, optimizer in (("d_optimizer", d_optimizer), ("g_optimizer", g_optimizer)):
        if not isinstance(optimizer, keras.optimizers.Optimizer):
            raise TypeError(
                f"{name} must be a keras.optimizers.Optimizer. Received: {name} "
                f"of type {type(optimizer).__name__}"
            )
    findings = []
    if d_optimizer is g_optimizer:
        message = (
            "One optimizer object is used for both models. It keeps one step "
            "counter (and, for Adam, moment estimates per variable under one "
            "schedule), so each model's updates depend on the other's. Create "
            "two optimizers."
        )
        findings.append(Finding("separate_optimizers", True, message))
    else:
        findings.append(
            Finding("separate_optimizers", False, "Each model has its own optimizer.")
        )

    for name, optimizer in (("d_optimizer", d_optimizer), ("g_optimizer", g_optimizer)):
        if not isinstance(optimizer, keras.optimizers.Adam):
            continue
        beta_1 = float(optimizer.beta_1)
        if beta_1 > MAX_BETA_1:
            message = (
                f"{name} is Adam with beta_1={beta_1:g}. With a momentum this "
                "high the two models chase each other's old gradients and "
                "training oscillates; DCGAN uses beta_1=0.5."
            )
            findings.append(Finding("adam_beta_1", True, message, beta_1, MAX_BETA_1))
        else:
            message = f"{name} is Adam with beta_1={beta_1:g}."
            findings.append(Finding("adam_beta_1", False, message, beta_1, MAX_BETA_1))

    d_rate, g_rate = _learning_rate(d_optimizer), _learning_rate(g_optimizer)
    if d_rate is not None and g_rate is not None and d_rate > 0 and g_rate > 0:
        ratio = max(d_rate / g_rate, g_rate / d_rate)
        measured = f"learning rates D {d_rate:g} and G {g_rate:g} (ratio {ratio:.3g})"
        mismatched = ratio > MAX_LEARNING_RATE_RATIO
        message = measured
        if mismatched:
            faster = "discriminator" if d_rate > g_rate else "generator"
            message = (
                f"Mismatched {measured}: the {faster} moves more than "
                f"{MAX_LEARNING_RATE_RATIO:g} times faster and overpowers the "
                "other model. Start from equal rates (2e-4 for both) and change "
                "them one at a time."
            )
        findings.append(
            Finding(
                "learning_rate_ratio",
                mismatched,
                message,
                ratio,
                MAX_LEARNING_RATE_RATIO,
            )
        )
    return findings


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stop training at the first step whose logs hold a NaN or an infinity.

    Unlike `keras.callbacks.TerminateOnNaN`, it checks every value in the
    logs (for a GAN both `d_loss` and `g_loss`) and stores where it stopped.
    The logs of `fit` are running means over the epoch, so the first step
    with a non-finite loss makes its mean non-finite at once.

    Args:
        monitor: Names of the log values to check, or `None` for all.
        verbose: If true, print one line when training stops.

    Attributes:
        stopped_step: Step (counted from 1 over the whole run) at which
            training stopped, or `None` while every value was finite.
        stopped_epoch: Epoch (counted from 1) of that step, or `None`.
        loss_name: Name of the first non-finite value, or `None`.
        value: That value (NaN or an infinity), or `None`.
        message: The sentence printed when `verbose` is set, or `None`.
    """

    def __init__(self, monitor=None, verbose=False):
        super().__init__()
        self.monitor = None if monitor is None else tuple(monitor)
        self.verbose = verbose
        self.stopped_step = None
        self.stopped_epoch = None
        self.loss_name = None
        self.value = None
        self.message = None
        self._steps_seen = 0
        self._epoch = 0

    def on_train_begin(self, logs=None):
        self.stopped_step = self.stopped_epoch = None
        self.loss_name = self.value = self.message = None
        self._steps_seen = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self._steps_seen += 1
        for name, value in (logs or {}).items():
            if self.monitor is not None and name not in self.monitor:
                continue
            number = float(np.asarray(value).reshape(-1)[0])
            if math.isfinite(number):
                continue
            self.stopped_step = self._steps_seen
            self.stopped_epoch = self._epoch + 1
            self.loss_name = name
            self.value = number
            self.message = (
                f"Stopped training: {name} is {number} at step {self._steps_seen} "
                f"(epoch {self._epoch + 1}, batch {batch + 1})."
            )
            if self.verbose:
                print(self.message)
            self.model.stop_training = True
            return
