"""Toy GANs on 1-D and 2-D data, where every distribution can be drawn.

Taught in `notebooks/01_gan_theory.ipynb`. The data here are points, not
images: arrays of shape `(n, 1)` or `(n, 2)` with values of any size, so the
toy generator ends in a linear layer, not `tanh`.

- Samplers: a 1-D Gaussian mixture and a 2-D ring of Gaussians.
- Theory on known densities: the optimal discriminator
  `D*(x) = p_data(x) / (p_data(x) + p_g(x))`, the value of the game at `D*`
  and the Jensen-Shannon divergence.
- Diagnostics: mode coverage on the ring, a plot of generated against real
  samples and a callback that keeps snapshots of generated samples.
"""

from typing import NamedTuple

import keras
import numpy as np
from keras import layers, ops

LEAKY_SLOPE = 0.2


def _check_count(n, name="n"):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{name} must be a positive int. Received: {name}={n!r}")


def _mixture_parameters(means, stds, weights):
    means = np.asarray(means, dtype=np.float64).reshape(-1)
    stds = np.asarray(stds, dtype=np.float64).reshape(-1)
    if stds.size == 1:
        stds = np.full_like(means, stds[0])
    if weights is None:
        weights = np.full_like(means, 1.0 / means.size)
    weights = np.asarray(weights, dtype=np.float64).reshape(-1)
    if not means.size == stds.size == weights.size:
        raise ValueError(
            "means, stds and weights must have the same length. Received: "
            f"{means.size} means, {stds.size} stds and {weights.size} weights."
        )
    if np.any(stds <= 0):
        raise ValueError(f"stds must be positive. Received: stds={stds.tolist()}")
    if np.any(weights < 0) or not np.isclose(weights.sum(), 1.0):
        raise ValueError(
            "weights must be non-negative and sum to 1. Received: "
            f"weights={weights.tolist()}"
        )
    return means, stds, weights


def sample_mixture_1d(n, means=(-2.0, 2.0), stds=0.5, weights=None, seed=None):
    """Draw points from a 1-D mixture of Gaussians.

    Args:
        n: Number of points.
        means: Mean of each component.
        stds: Standard deviation of each component, or one value for all.
        weights: Probability of each component, or `None` for equal weights.
        seed: Seed of the NumPy generator.

    Returns:
        float32 array of shape `(n, 1)`.
    """
    _check_count(n)
    means, stds, weights = _mixture_parameters(means, stds, weights)
    rng = np.random.default_rng(seed)
    components = rng.choice(means.size, size=n, p=weights)
    points = rng.normal(means[components], stds[components])
    return points.astype(np.float32).reshape(n, 1)


def mixture_density_1d(x, means=(-2.0, 2.0), stds=0.5, weights=None):
    """Evaluate the density of a 1-D mixture of Gaussians.

    Args:
        x: Points, any shape.
        means: Mean of each component.
        stds: Standard deviation of each component, or one value for all.
        weights: Probability of each component, or `None` for equal weights.

    Returns:
        float64 array of the same shape as `x`, at least 0.
    """
    means, stds, weights = _mixture_parameters(means, stds, weights)
    x = np.asarray(x, dtype=np.float64)
    z = (x[..., np.newaxis] - means) / stds
    components = np.exp(-0.5 * z**2) / (stds * np.sqrt(2.0 * np.pi))
    return np.sum(weights * components, axis=-1)


def ring_mode_centers(num_modes=8, radius=2.0):
    """Return the centers of the modes of the ring of Gaussians.

    Args:
        num_modes: Number of modes, evenly spaced on the circle.
        radius: Radius of the circle.

    Returns:
        float32 array of shape `(num_modes, 2)`. The first center is
        `(radius, 0)` and the others follow counter-clockwise.
    """
    _check_count(num_modes, "num_modes")
    angles = 2.0 * np.pi * np.arange(num_modes) / num_modes
    centers = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return centers.astype(np.float32)


def sample_ring(n, num_modes=8, radius=2.0, std=0.05, seed=None):
    """Draw points from a ring of Gaussians with equal weights.

    Args:
        n: Number of points.
        num_modes: Number of Gaussians on the circle.
        radius: Radius of the circle.
        std: Standard deviation of each Gaussian, the same along both axes.
        seed: Seed of the NumPy generator.

    Returns:
        float32 array of shape `(n, 2)`.
    """
    _check_count(n)
    if std <= 0:
        raise ValueError(f"std must be positive. Received: std={std}")
    centers = ring_mode_centers(num_modes, radius)
    rng = np.random.default_rng(seed)
    modes = rng.integers(num_modes, size=n)
    points = centers[modes] + rng.normal(0.0, std, size=(n, 2))
    return points.astype(np.float32)


def optimal_discriminator(p_data, p_g):
    """Compute the optimal discriminator `D*(x) = p_data / (p_data + p_g)`.

    Where both densities are 0 every value of D is optimal, and this
    function returns 0.5 there.

    Args:
        p_data: Density of the real data at some points, at least 0.
        p_g: Density of the generator at the same points, at least 0.

    Returns:
        float64 array of the broadcast shape, in [0, 1].
    """
    p_data = np.asarray(p_data, dtype=np.float64)
    p_g = np.asarray(p_g, dtype=np.float64)
    if np.any(p_data < 0) or np.any(p_g < 0):
        raise ValueError(
            "Densities must be non-negative. Received: "
            f"min(p_data)={p_data.min()}, min(p_g)={p_g.min()}"
        )
    total = p_data + p_g
    safe_total = np.where(total > 0, total, 1.0)
    return np.where(total > 0, p_data / safe_total, 0.5)


def _as_probabilities(p, q, dx):
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if p.shape != q.shape:
        raise ValueError(
            f"p and q must have the same shape. Received: {p.shape} and {q.shape}"
        )
    if np.any(p < 0) or np.any(q < 0):
        raise ValueError(
            "p and q must be non-negative. Received: "
            f"min(p)={p.min()}, min(q)={q.min()}"
        )
    return p * dx, q * dx


def _sum_plogp_over_m(p, m):
    # Terms with p = 0 contribute 0 (the limit of p log p).
    positive = p > 0
    return np.sum(p[positive] * np.log(p[positive] / m[positive]))


def js_divergence(p, q, dx=1.0):
    """Compute the Jensen-Shannon divergence between two distributions.

    `JS(p, q) = KL(p || m) / 2 + KL(q || m) / 2` with `m = (p + q) / 2`, in
    nats. It is 0 for identical distributions and `ln 2 = 0.693` for
    distributions with disjoint supports.

    Args:
        p: Probabilities of the first distribution (summing to 1), or its
            density on an evenly spaced grid with spacing `dx`.
        q: The second distribution, in the same form and shape.
        dx: Grid spacing (the volume of one grid cell) for densities; 1 for
            probabilities.

    Returns:
        float in [0, ln 2].
    """
    p, q = _as_probabilities(p, q, dx)
    m = 0.5 * (p + q)
    return float(0.5 * _sum_plogp_over_m(p, m) + 0.5 * _sum_plogp_over_m(q, m))


def value_at_optimal_discriminator(p_data, p_g, dx=1.0):
    """Compute the GAN value `V(D*, G)` for known densities.

    `V(D, G) = E_{x ~ p_data}[log D(x)] + E_{x ~ p_g}[log(1 - D(x))]`,
    evaluated at the optimal discriminator by summing over a grid. In theory
    it equals `-ln 4 + 2 * JS(p_data, p_g)`.

    Args:
        p_data: Real-data density on an evenly spaced grid (or probabilities).
        p_g: Generator density on the same grid.
        dx: Grid spacing, or 1 for probabilities.

    Returns:
        float in [-ln 4, 0].
    """
    p, q = _as_probabilities(p_data, p_g, dx)
    d_star = optimal_discriminator(p, q)
    real_term = np.sum(p[p > 0] * np.log(d_star[p > 0]))
    fake_term = np.sum(q[q > 0] * np.log(1.0 - d_star[q > 0]))
    return float(real_term + fake_term)


class ModeCoverage(NamedTuple):
    """Mode coverage of a set of samples (see `mode_coverage`)."""

    modes_covered: int
    num_modes: int
    share_near_modes: float


def mode_coverage(samples, centers, max_distance, min_share=0.01):
    """Count the modes that the samples cover, and the share near any mode.

    A sample is near a mode if its Euclidean distance to the mode's center
    is at most `max_distance`, and it counts for the nearest center only. A mode
    is covered if at least `min_share` of all samples are near it, so a few
    stray points do not count as a mode.

    Args:
        samples: Array of shape `(n, dims)`.
        centers: Array of shape `(num_modes, dims)`.
        max_distance: Radius around each center, for example 3 standard
            deviations of the real modes.
        min_share: Share of the samples, in (0, 1], that must be near a mode
            for it to count as covered.

    Returns:
        A `ModeCoverage(modes_covered, num_modes, share_near_modes)`, where
        `share_near_modes` is in [0, 1].
    """
    samples = np.asarray(samples, dtype=np.float64)
    centers = np.asarray(centers, dtype=np.float64)
    if samples.ndim != 2 or centers.ndim != 2 or samples.shape[1] != centers.shape[1]:
        raise ValueError(
            "Expected samples (n, dims) and centers (num_modes, dims) with the "
            f"same dims. Received: samples.shape={samples.shape}, "
            f"centers.shape={centers.shape}"
        )
    if len(samples) == 0:
        raise ValueError("samples is empty. Received: samples.shape=(0, dims)")
    if not 0.0 < min_share <= 1.0:
        raise ValueError(
            f"min_share must be in (0, 1]. Received: min_share={min_share}"
        )
    distances = np.linalg.norm(samples[:, np.newaxis, :] - centers, axis=-1)
    nearest = np.argmin(distances, axis=1)
    is_near = distances[np.arange(len(samples)), nearest] <= max_distance
    counts = np.bincount(nearest[is_near], minlength=len(centers))
    modes_covered = int(np.sum(counts >= min_share * len(samples)))
    return ModeCoverage(modes_covered, len(centers), float(np.mean(is_near)))


def build_toy_generator(
    latent_dim=2, data_dim=2, units=(128, 128), name="toy_generator"
):
    """Build an MLP generator for points.

    Args:
        latent_dim: Size of the latent vector z.
        data_dim: Size of one data point (1 or 2 here).
        units: Width of each hidden `Dense` layer, with LeakyReLU after it.
        name: Name of the model.

    Returns:
        A `keras.Model` from `(batch, latent_dim)` to `(batch, data_dim)`,
        with a linear output (values of any size).
    """
    _check_count(latent_dim, "latent_dim")
    _check_count(data_dim, "data_dim")
    inputs = keras.Input(shape=(latent_dim,), name="z")
    x = inputs
    for width in units:
        x = layers.Dense(width)(x)
        x = layers.LeakyReLU(negative_slope=LEAKY_SLOPE)(x)
    outputs = layers.Dense(data_dim, name="points")(x)
    return keras.Model(inputs, outputs, name=name)


@keras.saving.register_keras_serializable(package="ganutils")
class MinibatchStddev(layers.Layer):
    """Append the batch's mean standard deviation as one more feature.

    The layer computes the standard deviation of each feature over the batch,
    averages it into one number and appends that number to every row. A
    discriminator with this layer gets a measure of the batch's spread, so a
    generator that puts all its samples on one mode gets a batch whose value
    differs from that of a real batch. `ganutils.GAN` passes real and generated
    samples through D as separate batches, so each batch is all real or all
    generated.

    Input shape: `(batch, features)`. Output shape: `(batch, features + 1)`.
    """

    def call(self, inputs):
        spread = ops.mean(ops.std(inputs, axis=0))
        column = ops.ones_like(inputs[:, :1]) * spread
        return ops.concatenate([inputs, column], axis=1)

    def compute_output_shape(self, input_shape):
        features = None if input_shape[-1] is None else input_shape[-1] + 1
        return (*input_shape[:-1], features)


def build_toy_discriminator(
    data_dim=2, units=(128, 128), minibatch_stddev=False, name="toy_discriminator"
):
    """Build an MLP discriminator for points that returns logits.

    Args:
        data_dim: Size of one data point.
        units: Width of each hidden `Dense` layer, with LeakyReLU after it.
        minibatch_stddev: If true, insert a `MinibatchStddev` layer before the
            last hidden `Dense` layer.
        name: Name of the model.

    Returns:
        A `keras.Model` from `(batch, data_dim)` to logits `(batch, 1)`.
    """
    _check_count(data_dim, "data_dim")
    inputs = keras.Input(shape=(data_dim,), name="points")
    x = inputs
    for index, width in enumerate(units):
        if minibatch_stddev and index == len(units) - 1:
            x = MinibatchStddev()(x)
        x = layers.Dense(width)(x)
        x = layers.LeakyReLU(negative_slope=LEAKY_SLOPE)(x)
    outputs = layers.Dense(1, name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


class SampleSnapshots(keras.callbacks.Callback):
    """Keep generated samples every `every` epochs while a `GAN` trains.

    The samples come from `GAN.generate` with a fixed seed, so every snapshot
    uses the same latent vectors and the pictures show how one set of points
    moves. A snapshot before the first epoch is stored too.

    Args:
        num_samples: Samples per snapshot.
        every: Epochs between snapshots, >= 1. The last epoch is always kept.
        seed: Seed of the latent vectors.

    Attributes:
        snapshots: List of `(epoch, samples)` pairs, where epoch 0 is before
            training and `samples` is a NumPy array `(num_samples, dims)`.
    """

    def __init__(self, num_samples=1000, every=1, seed=0):
        super().__init__()
        _check_count(num_samples, "num_samples")
        _check_count(every, "every")
        self.num_samples = num_samples
        self.every = every
        self.seed = seed
        self.snapshots = []

    def _record(self, epoch):
        samples = self.model.generate(self.num_samples, seed=self.seed)
        self.snapshots.append((epoch, samples))

    def on_train_begin(self, logs=None):
        self.snapshots = []
        self._record(0)

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        if done % self.every == 0 or done == self.params.get("epochs"):
            self._record(done)


def plot_samples(real, generated, ax=None, centers=None, bins=60, title=None):
    """Draw generated samples over real ones: histograms in 1-D, dots in 2-D.

    Args:
        real: Real samples, `(n, 1)` or `(n, 2)`.
        generated: Generated samples with the same number of columns.
        ax: Matplotlib axes to draw on, or `None` for a new figure.
        centers: Optional mode centers `(num_modes, 2)`, drawn as crosses.
        bins: Histogram bins, used in 1-D.
        title: Axes title.

    Returns:
        The Matplotlib axes.
    """
    import matplotlib.pyplot as plt

    real = np.asarray(real)
    generated = np.asarray(generated)
    if (
        real.ndim != 2
        or real.shape[1] not in (1, 2)
        or generated.shape[1:] != real.shape[1:]
    ):
        raise ValueError(
            "Expected real and generated samples of shape (n, 1) or (n, 2). "
            f"Received: real.shape={real.shape}, generated.shape={generated.shape}"
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    if real.shape[1] == 1:
        low = min(real.min(), generated.min())
        high = max(real.max(), generated.max())
        edges = np.linspace(low, high, bins + 1)
        ax.hist(real[:, 0], edges, density=True, alpha=0.5, label="real")
        ax.hist(
            generated[:, 0],
            edges,
            density=True,
            histtype="step",
            lw=2,
            label="generated",
        )
    else:
        ax.scatter(real[:, 0], real[:, 1], s=4, alpha=0.3, label="real")
        ax.scatter(generated[:, 0], generated[:, 1], s=4, alpha=0.5, label="generated")
        if centers is not None:
            centers = np.asarray(centers)
            ax.scatter(centers[:, 0], centers[:, 1], marker="x", c="k", label="modes")
        ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    return ax


def plot_snapshots(snapshots, real, centers=None, max_columns=5):
    """Draw the snapshots of a `SampleSnapshots` callback side by side.

    Args:
        snapshots: List of `(epoch, samples)` pairs; at most `max_columns`
            of them, evenly spaced and always including the last, are drawn.
        real: Real samples, `(n, 1)` or `(n, 2)`.
        centers: Optional mode centers, drawn as crosses in 2-D.
        max_columns: Maximum number of panels.

    Returns:
        The Matplotlib figure.
    """
    import matplotlib.pyplot as plt

    if not snapshots:
        raise ValueError(
            "snapshots is empty. Train with a SampleSnapshots callback first."
        )
    picks = np.unique(
        np.linspace(0, len(snapshots) - 1, max_columns).round().astype(int)
    )
    fig, axes = plt.subplots(1, len(picks), figsize=(3 * len(picks), 3), squeeze=False)
    for ax, index in zip(axes[0], picks, strict=True):
        epoch, samples = snapshots[index]
        plot_samples(real, samples, ax=ax, centers=centers, title=f"epoch {epoch}")
    axes[0][0].legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    return fig
