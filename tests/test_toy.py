import math

import keras
import matplotlib
import numpy as np
import pytest

from ganutils import GAN, toy

matplotlib.use("Agg")


def test_sample_mixture_1d_shape_and_moments():
    points = toy.sample_mixture_1d(20000, means=(-2.0, 2.0), stds=0.5, seed=0)
    assert points.shape == (20000, 1)
    assert points.dtype == np.float32
    # Equal weights: mean 0, variance = mean of squared means + std^2 = 4.25.
    assert abs(points.mean()) < 0.05
    assert points.var() == pytest.approx(4.25, rel=0.03)


def test_sample_mixture_1d_weights():
    points = toy.sample_mixture_1d(
        20000, means=(-3.0, 3.0), stds=0.1, weights=(0.8, 0.2), seed=1
    )
    assert np.mean(points < 0) == pytest.approx(0.8, abs=0.01)


def test_sample_mixture_1d_seed_repeats():
    first = toy.sample_mixture_1d(100, seed=3)
    second = toy.sample_mixture_1d(100, seed=3)
    np.testing.assert_array_equal(first, second)


def test_sample_mixture_1d_bad_weights():
    with pytest.raises(ValueError, match="sum to 1"):
        toy.sample_mixture_1d(10, means=(0.0, 1.0), weights=(0.5, 0.6))


def test_mixture_density_1d_integrates_to_one():
    grid, dx = np.linspace(-10.0, 10.0, 4001, retstep=True)
    density = toy.mixture_density_1d(
        grid, means=(-2.0, 1.0), stds=(0.5, 1.0), weights=(0.3, 0.7)
    )
    assert np.sum(density) * dx == pytest.approx(1.0, abs=1e-6)


def test_mixture_density_1d_single_gaussian_peak():
    peak = toy.mixture_density_1d(0.0, means=(0.0,), stds=2.0)
    assert float(peak) == pytest.approx(1.0 / (2.0 * math.sqrt(2.0 * math.pi)))


def test_ring_mode_centers_on_circle():
    centers = toy.ring_mode_centers(8, radius=2.0)
    assert centers.shape == (8, 2)
    np.testing.assert_allclose(np.linalg.norm(centers, axis=1), 2.0, rtol=1e-6)
    np.testing.assert_allclose(centers[0], [2.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(centers[2], [0.0, 2.0], atol=1e-6)


def test_sample_ring_shape_and_moments():
    points = toy.sample_ring(16000, num_modes=8, radius=2.0, std=0.05, seed=0)
    assert points.shape == (16000, 2)
    assert points.dtype == np.float32
    np.testing.assert_allclose(points.mean(axis=0), [0.0, 0.0], atol=0.05)
    radii = np.linalg.norm(points, axis=1)
    assert radii.mean() == pytest.approx(2.0, abs=0.01)
    # Every point lies within 5 std of a center, and each mode gets ~1/8.
    distances = np.linalg.norm(points[:, None] - toy.ring_mode_centers(8, 2.0), axis=-1)
    assert distances.min(axis=1).max() < 5 * 0.05 * math.sqrt(2)
    shares = np.bincount(distances.argmin(axis=1), minlength=8) / len(points)
    np.testing.assert_allclose(shares, 1 / 8, atol=0.015)


def test_optimal_discriminator_known_densities():
    d_star = toy.optimal_discriminator([1.0, 0.0, 3.0, 0.0], [1.0, 2.0, 1.0, 0.0])
    np.testing.assert_allclose(d_star, [0.5, 0.0, 0.75, 0.5])


def test_optimal_discriminator_equal_gaussians_is_half():
    grid = np.linspace(-5, 5, 101)
    density = toy.mixture_density_1d(grid, means=(0.0,), stds=1.0)
    np.testing.assert_allclose(toy.optimal_discriminator(density, density), 0.5)


def test_optimal_discriminator_two_gaussians_is_sigmoid():
    # For N(1, 1) against N(-1, 1), log(p_data / p_g) = 2x, so D* = sigmoid(2x).
    grid = np.linspace(-4, 4, 81)
    p_data = toy.mixture_density_1d(grid, means=(1.0,), stds=1.0)
    p_g = toy.mixture_density_1d(grid, means=(-1.0,), stds=1.0)
    expected = 1.0 / (1.0 + np.exp(-2.0 * grid))
    np.testing.assert_allclose(
        toy.optimal_discriminator(p_data, p_g), expected, rtol=1e-9
    )


def test_optimal_discriminator_rejects_negative():
    with pytest.raises(ValueError, match="non-negative"):
        toy.optimal_discriminator([-0.1], [1.0])


def test_js_divergence_identical_is_zero():
    p = np.array([0.1, 0.2, 0.3, 0.4])
    assert toy.js_divergence(p, p) == pytest.approx(0.0, abs=1e-12)


def test_js_divergence_disjoint_is_ln2():
    p = np.array([0.5, 0.5, 0.0, 0.0])
    q = np.array([0.0, 0.0, 0.25, 0.75])
    assert toy.js_divergence(p, q) == pytest.approx(math.log(2.0))


def test_js_divergence_hand_computed():
    # p = (1, 0), q = (1/2, 1/2): m = (3/4, 1/4).
    expected = 0.5 * math.log(4 / 3) + 0.5 * (0.5 * math.log(2 / 3) + 0.5 * math.log(2))
    assert toy.js_divergence([1.0, 0.0], [0.5, 0.5]) == pytest.approx(expected)


def test_js_divergence_densities_on_grid():
    grid, dx = np.linspace(-20.0, 20.0, 8001, retstep=True)
    far_left = toy.mixture_density_1d(grid, means=(-8.0,), stds=0.5)
    far_right = toy.mixture_density_1d(grid, means=(8.0,), stds=0.5)
    assert toy.js_divergence(far_left, far_right, dx) == pytest.approx(
        math.log(2.0), abs=1e-6
    )
    assert toy.js_divergence(far_left, far_left, dx) == pytest.approx(0.0, abs=1e-9)


def test_value_at_optimal_discriminator_matches_js():
    grid, dx = np.linspace(-10.0, 10.0, 4001, retstep=True)
    p_data = toy.mixture_density_1d(grid, means=(-2.0, 2.0), stds=0.5)
    p_g = toy.mixture_density_1d(grid, means=(0.5,), stds=1.5)
    value = toy.value_at_optimal_discriminator(p_data, p_g, dx)
    expected = -math.log(4.0) + 2.0 * toy.js_divergence(p_data, p_g, dx)
    assert value == pytest.approx(expected, abs=1e-9)
    assert -math.log(4.0) < value < 0.0


def test_value_at_optimal_discriminator_equal_is_minus_ln4():
    p = np.array([0.25, 0.25, 0.5])
    assert toy.value_at_optimal_discriminator(p, p) == pytest.approx(-math.log(4.0))


def test_mode_coverage_all_modes():
    centers = toy.ring_mode_centers(4, radius=1.0)
    samples = np.repeat(centers, 5, axis=0) + 0.01
    coverage = toy.mode_coverage(samples, centers, max_distance=0.1)
    assert coverage == toy.ModeCoverage(4, 4, 1.0)


def test_mode_coverage_collapsed_on_one_mode():
    centers = toy.ring_mode_centers(8, radius=2.0)
    samples = np.tile(centers[3], (50, 1))
    coverage = toy.mode_coverage(samples, centers, max_distance=0.1)
    assert coverage.modes_covered == 1
    assert coverage.share_near_modes == 1.0


def test_mode_coverage_far_points_count_as_off_mode():
    centers = np.array([[0.0, 0.0], [10.0, 0.0]])
    samples = np.array([[0.0, 0.05], [10.0, 0.0], [5.0, 0.0], [5.0, 5.0]])
    coverage = toy.mode_coverage(samples, centers, max_distance=0.1)
    assert coverage.modes_covered == 2
    assert coverage.share_near_modes == 0.5


def test_mode_coverage_min_share_ignores_stray_points():
    centers = np.array([[0.0, 0.0], [10.0, 0.0]])
    samples = np.vstack([np.zeros((99, 2)), [[10.0, 0.0]]])
    assert toy.mode_coverage(samples, centers, 0.1, min_share=0.01).modes_covered == 2
    assert toy.mode_coverage(samples, centers, 0.1, min_share=0.05).modes_covered == 1


def test_mode_coverage_rejects_mismatched_dims():
    with pytest.raises(ValueError, match="same dims"):
        toy.mode_coverage(np.zeros((5, 1)), np.zeros((3, 2)), max_distance=0.1)


def test_toy_models_shapes():
    generator = toy.build_toy_generator(latent_dim=3, data_dim=2, units=(16,))
    discriminator = toy.build_toy_discriminator(data_dim=2, units=(16,))
    points = generator(np.zeros((5, 3), dtype="float32"))
    assert tuple(points.shape) == (5, 2)
    assert tuple(discriminator(points).shape) == (5, 1)


def test_sample_snapshots_records_epochs():
    keras.utils.set_random_seed(0)
    gan = GAN(
        toy.build_toy_generator(2, 1, units=(8,)),
        toy.build_toy_discriminator(1, units=(8,)),
        latent_dim=2,
        seed=0,
    )
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    snapshots = toy.SampleSnapshots(num_samples=20, every=2, seed=5)
    data = toy.sample_mixture_1d(64, seed=0)
    gan.fit(data, batch_size=32, epochs=3, verbose=0, callbacks=[snapshots])
    assert [epoch for epoch, _ in snapshots.snapshots] == [0, 2, 3]
    assert all(samples.shape == (20, 1) for _, samples in snapshots.snapshots)
    # Same latent vectors each time, so the untrained and trained samples differ
    # only because the weights changed.
    assert not np.allclose(snapshots.snapshots[0][1], snapshots.snapshots[-1][1])


def test_minibatch_stddev_appends_mean_std():
    inputs = np.array([[0.0, 1.0], [2.0, 1.0], [4.0, 1.0]], dtype="float32")
    outputs = keras.ops.convert_to_numpy(toy.MinibatchStddev()(inputs))
    assert outputs.shape == (3, 3)
    np.testing.assert_array_equal(outputs[:, :2], inputs)
    # Feature stds are sqrt(8/3) and 0; their mean goes into every row.
    np.testing.assert_allclose(outputs[:, 2], math.sqrt(8 / 3) / 2, rtol=1e-6)


def test_minibatch_stddev_identical_rows_give_zero():
    inputs = np.ones((4, 5), dtype="float32")
    outputs = keras.ops.convert_to_numpy(toy.MinibatchStddev()(inputs))
    np.testing.assert_array_equal(outputs[:, -1], 0.0)


def test_toy_discriminator_with_minibatch_stddev():
    discriminator = toy.build_toy_discriminator(2, units=(8, 8), minibatch_stddev=True)
    layer_types = [type(layer).__name__ for layer in discriminator.layers]
    assert layer_types.count("MinibatchStddev") == 1
    assert tuple(discriminator(np.zeros((6, 2), dtype="float32")).shape) == (6, 1)


def test_plot_samples_draws_1d_and_2d():
    import matplotlib.pyplot as plt

    ax_1d = toy.plot_samples(toy.sample_mixture_1d(50, seed=0), np.zeros((30, 1)))
    assert len(ax_1d.patches) > 0
    centers = toy.ring_mode_centers(8)
    ax_2d = toy.plot_samples(toy.sample_ring(50, seed=0), centers, centers=centers)
    # Real points, generated points and the mode crosses.
    assert len(ax_2d.collections) == 3
    plt.close("all")


def test_plot_samples_rejects_3d_points():
    with pytest.raises(ValueError, match=r"\(n, 1\) or \(n, 2\)"):
        toy.plot_samples(np.zeros((5, 3)), np.zeros((5, 3)))


def test_plot_snapshots_one_panel_per_pick():
    import matplotlib.pyplot as plt

    real = toy.sample_ring(40, seed=0)
    snapshots = [(epoch, real + epoch) for epoch in range(9)]
    figure = toy.plot_snapshots(snapshots, real, max_columns=3)
    titles = [ax.get_title() for ax in figure.axes]
    assert titles == ["epoch 0", "epoch 4", "epoch 8"]
    plt.close("all")
