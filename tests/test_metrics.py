"""Tests of ganutils.metrics: the maths on synthetic points, then real images."""

import shutil

import keras
import numpy as np
import pytest
from scipy import linalg

from ganutils import GAN, metrics
from ganutils.data import ChecksumError, DatasetNotFoundError, load_dataset
from ganutils.models import build_models


def random_covariance(rng, d):
    factor = rng.standard_normal((d, d))
    return factor @ factor.T / d + 0.1 * np.eye(d)


def symmetric_square_root(matrix):
    eigenvalues, eigenvectors = np.linalg.eigh(matrix)
    return eigenvectors @ np.diag(np.sqrt(np.maximum(eigenvalues, 0))) @ eigenvectors.T


def closed_form_frechet(mean_a, covariance_a, mean_b, covariance_b):
    """Fréchet distance through the symmetric form (A^1/2 B A^1/2)^1/2."""
    root_a = symmetric_square_root(covariance_a)
    cross = symmetric_square_root(root_a @ covariance_b @ root_a)
    difference = mean_a - mean_b
    return difference @ difference + np.trace(covariance_a + covariance_b - 2 * cross)


# Fréchet distance


def test_frechet_statistics_matches_closed_form():
    rng = np.random.default_rng(0)
    for d in (1, 3, 16):
        mean_a, mean_b = rng.standard_normal(d), rng.standard_normal(d)
        covariance_a = random_covariance(rng, d)
        covariance_b = random_covariance(rng, d)
        expected = closed_form_frechet(mean_a, covariance_a, mean_b, covariance_b)
        received = metrics.frechet_distance_from_statistics(
            mean_a, covariance_a, mean_b, covariance_b
        )
        assert received == pytest.approx(expected, rel=1e-6)


def test_frechet_diagonal_gaussians_by_hand():
    # For diagonal covariances the trace term is sum((sqrt(a) - sqrt(b))^2):
    # variances (1, 4) and (9, 1) give (1 - 3)^2 + (2 - 1)^2 = 5, and the
    # means (0, 0) and (1, 2) add 1 + 4 = 5.
    received = metrics.frechet_distance_from_statistics(
        np.zeros(2), np.diag([1.0, 4.0]), np.array([1.0, 2.0]), np.diag([9.0, 1.0])
    )
    assert received == pytest.approx(10.0)


def test_frechet_samples_approach_closed_form():
    rng = np.random.default_rng(1)
    d = 4
    mean_a, mean_b = np.zeros(d), np.full(d, 0.5)
    covariance_a, covariance_b = random_covariance(rng, d), random_covariance(rng, d)
    features_a = rng.multivariate_normal(mean_a, covariance_a, size=200_000)
    features_b = rng.multivariate_normal(mean_b, covariance_b, size=200_000)
    expected = closed_form_frechet(mean_a, covariance_a, mean_b, covariance_b)
    assert metrics.frechet_distance(features_a, features_b) == pytest.approx(
        expected, rel=0.02
    )


def test_frechet_set_with_itself_is_zero():
    features = np.random.default_rng(2).standard_normal((500, 32))
    assert abs(metrics.frechet_distance(features, features)) < 1e-6


def test_frechet_symmetric():
    rng = np.random.default_rng(3)
    features_a = rng.standard_normal((400, 8))
    features_b = 2.0 * rng.standard_normal((300, 8)) + 1.0
    forward = metrics.frechet_distance(features_a, features_b)
    backward = metrics.frechet_distance(features_b, features_a)
    assert forward == pytest.approx(backward, rel=1e-6)


def test_frechet_invariant_to_shift_and_rotation():
    rng = np.random.default_rng(4)
    features_a = rng.standard_normal((400, 8))
    features_b = rng.standard_normal((400, 8)) @ random_covariance(rng, 8) + 0.3
    rotation, _ = np.linalg.qr(rng.standard_normal((8, 8)))
    shift = rng.standard_normal(8) * 5
    original = metrics.frechet_distance(features_a, features_b)
    moved = metrics.frechet_distance(
        features_a @ rotation + shift, features_b @ rotation + shift
    )
    assert moved == pytest.approx(original, rel=1e-6)


def test_frechet_scales_with_square_of_scale():
    rng = np.random.default_rng(5)
    features_a = rng.standard_normal((300, 6))
    features_b = rng.standard_normal((300, 6)) * 1.5 + 0.2
    original = metrics.frechet_distance(features_a, features_b)
    scaled = metrics.frechet_distance(3 * features_a, 3 * features_b)
    assert scaled == pytest.approx(9 * original, rel=1e-6)


def test_frechet_fewer_samples_than_dimensions_is_finite():
    rng = np.random.default_rng(6)
    distance = metrics.frechet_distance(
        rng.standard_normal((10, 32)), rng.standard_normal((10, 32))
    )
    assert np.isfinite(distance)
    assert distance > 0


@pytest.mark.filterwarnings("error")
def test_frechet_constant_feature_no_warning():
    rng = np.random.default_rng(20)
    features_a = rng.standard_normal((200, 6))
    features_b = rng.standard_normal((200, 6)) + 0.5
    features_a[:, 2] = 0.0
    features_b[:, 2] = 0.0
    assert abs(metrics.frechet_distance(features_a, features_a)) < 1e-4
    assert metrics.frechet_distance(features_a, features_b) == pytest.approx(
        metrics.frechet_distance(
            np.delete(features_a, 2, 1), np.delete(features_b, 2, 1)
        ),
        abs=1e-4,
    )


def test_frechet_uses_scipy_sqrtm(monkeypatch):
    calls = []
    original_sqrtm = linalg.sqrtm

    def counting_sqrtm(matrix, *args, **kwargs):
        calls.append(matrix.shape)
        return original_sqrtm(matrix, *args, **kwargs)

    monkeypatch.setattr(metrics.linalg, "sqrtm", counting_sqrtm)
    metrics.frechet_distance(np.eye(5), np.eye(5)[::-1])
    assert calls == [(5, 5)]


def test_frechet_rejects_mismatched_widths():
    with pytest.raises(ValueError, match="same width"):
        metrics.frechet_distance(np.zeros((5, 3)), np.zeros((5, 4)))


def test_frechet_rejects_non_finite_features():
    features = np.ones((5, 3))
    features[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        metrics.frechet_distance(features, np.ones((5, 3)))


def test_frechet_rejects_one_dimensional_input():
    with pytest.raises(ValueError, match=r"Received: features_a.shape=\(5,\)"):
        metrics.frechet_distance(np.zeros(5), np.zeros((5, 1)))


# Kernel inception distance


def test_kid_unbiased_on_identical_distributions():
    rng = np.random.default_rng(7)
    means = []
    for seed in range(20):
        features_a = rng.standard_normal((100, 8))
        features_b = rng.standard_normal((100, 8))
        mean, _ = metrics.kernel_inception_distance(
            features_a, features_b, num_subsets=5, subset_size=100, seed=seed
        )
        means.append(mean)
    means = np.array(means)
    standard_error = means.std() / np.sqrt(len(means))
    # An unbiased estimator averages to 0 and goes negative about half the
    # time, whereas the biased V-statistic would be positive every time.
    assert abs(means.mean()) < 3 * standard_error
    assert np.any(means < 0)


def test_kid_positive_for_shifted_distribution():
    rng = np.random.default_rng(8)
    features_a = rng.standard_normal((300, 8))
    features_b = rng.standard_normal((300, 8)) + 1.0
    mean, std = metrics.kernel_inception_distance(
        features_a, features_b, num_subsets=10, subset_size=200
    )
    assert mean > 10 * std
    assert mean > 0.1


def test_kid_symmetric_for_full_subsets():
    rng = np.random.default_rng(9)
    features_a = rng.standard_normal((50, 4))
    features_b = rng.standard_normal((50, 4)) * 2
    # With subsets as large as the sets, every subset is the whole set.
    forward, _ = metrics.kernel_inception_distance(features_a, features_b, 3, 50)
    backward, _ = metrics.kernel_inception_distance(features_b, features_a, 3, 50)
    assert forward == pytest.approx(backward, rel=1e-9)


def test_kid_by_hand_on_two_points():
    # d = 1, x = {0, 1}, y = {2, 2}: k(a, b) = (a * b + 1)^3.
    # within x: k(0, 1) = 1; within y: k(2, 2) = 125;
    # across: k(0, 2) = 1 and k(1, 2) = 27, mean 14. MMD^2 = 1 + 125 - 28 = 98.
    mean, std = metrics.kernel_inception_distance(
        np.array([[0.0], [1.0]]), np.array([[2.0], [2.0]]), num_subsets=2, subset_size=2
    )
    assert mean == pytest.approx(98.0)
    assert std == pytest.approx(0.0)


# Inception score


def test_inception_score_confident_and_balanced_is_num_classes():
    probabilities = np.tile(np.eye(10), (10, 1))
    mean, std = metrics.inception_score(probabilities, num_splits=10)
    assert mean == pytest.approx(10.0)
    assert std == pytest.approx(0.0, abs=1e-9)


def test_inception_score_single_class_is_one():
    probabilities = np.zeros((50, 10))
    probabilities[:, 3] = 1.0
    assert metrics.inception_score(probabilities, num_splits=5)[0] == pytest.approx(1.0)


def test_inception_score_uniform_predictions_is_one():
    probabilities = np.full((50, 10), 0.1)
    assert metrics.inception_score(probabilities, num_splits=5)[0] == pytest.approx(1.0)


def test_inception_score_two_classes_by_hand():
    # Half the images certain of class 0, half of class 1: KL = ln 2, score 2.
    probabilities = np.array([[1.0, 0.0, 0.0]] * 4 + [[0.0, 1.0, 0.0]] * 4)
    assert metrics.inception_score(probabilities, num_splits=1)[0] == pytest.approx(2.0)


# Precision and recall


def test_precision_recall_identical_sets_are_one():
    points = np.random.default_rng(10).standard_normal((200, 5))
    assert metrics.precision_recall(points, points, k=3) == (1.0, 1.0)


def test_precision_recall_by_hand_on_a_line():
    # k = 1. Real points 0, 1, 2, 3 each have radius 1, so the real manifold
    # is [-1, 4]. Generated points 0, 0.5, 10, 10.2 have radii 0.5, 0.5, 0.2
    # and 0.2. Precision: 0 and 0.5 lie in [-1, 4], the other two do not.
    # Recall: real 0 and 1 lie within 0.5 of a generated point. Real 2 and 3
    # are at least 1.5 from 0.5 and at least 7 from 10.
    real = np.array([[0.0], [1.0], [2.0], [3.0]])
    generated = np.array([[0.0], [0.5], [10.0], [10.2]])
    precision, recall = metrics.precision_recall(real, generated, k=1)
    assert precision == pytest.approx(0.5)
    assert recall == pytest.approx(0.5)


def test_precision_recall_collapsed_generator_has_low_recall():
    real = np.array([[float(i), 0.0] for i in range(20)])
    # Every sample sits at real point 0, so all are realistic but the
    # generated balls have radius 0 and cover real point 0 only.
    generated = np.zeros((10, 2))
    precision, recall = metrics.precision_recall(real, generated, k=3)
    assert precision == 1.0
    assert recall == pytest.approx(1 / 20)


def test_precision_recall_far_samples_have_zero_precision():
    rng = np.random.default_rng(11)
    real = rng.standard_normal((100, 4))
    generated = rng.standard_normal((100, 4)) + 100.0
    precision, recall = metrics.precision_recall(real, generated, k=3)
    assert precision == 0.0
    assert recall == 0.0


def test_precision_recall_needs_more_than_k_points():
    with pytest.raises(ValueError, match="n >= 4"):
        metrics.precision_recall(np.zeros((3, 2)), np.zeros((10, 2)), k=3)


# Class coverage


def test_class_coverage_by_hand():
    probabilities = np.zeros((100, 4))
    probabilities[:50, 0] = 1.0
    probabilities[50:99, 1] = 1.0
    probabilities[99, 2] = 1.0
    coverage = metrics.class_coverage(probabilities, min_share=0.02)
    assert coverage["class_shares"] == [0.5, 0.49, 0.01, 0.0]
    assert coverage["classes_covered"] == 2
    expected_entropy = -(0.5 * np.log(0.5) + 0.49 * np.log(0.49) + 0.01 * np.log(0.01))
    assert coverage["class_entropy"] == pytest.approx(expected_entropy)


def test_class_coverage_balanced_has_maximum_entropy():
    coverage = metrics.class_coverage(np.tile(np.eye(10), (5, 1)))
    assert coverage["classes_covered"] == 10
    assert coverage["class_entropy"] == pytest.approx(np.log(10))


# Memorisation


def test_memorization_copies_have_ratio_zero():
    rng = np.random.default_rng(12)
    train = rng.standard_normal((200, 16))
    heldout = rng.standard_normal((50, 16))
    result = metrics.memorization(train[:50], train, heldout)
    assert result["nn_distance_generated"] == pytest.approx(0.0, abs=1e-3)
    assert result["memorization_ratio"] < 1e-3
    assert result["near_copy_share"] == 1.0


def test_memorization_fresh_samples_have_ratio_near_one():
    rng = np.random.default_rng(13)
    train = rng.standard_normal((500, 16))
    heldout = rng.standard_normal((300, 16))
    generated = rng.standard_normal((300, 16))
    result = metrics.memorization(generated, train, heldout)
    assert result["memorization_ratio"] == pytest.approx(1.0, abs=0.05)
    assert result["near_copy_share"] < 0.05


def test_memorization_flattens_images():
    images = np.zeros((4, 3, 3, 1))
    result = metrics.memorization(images, images + 0.5, images + 1.0)
    # Generated and held-out images both differ from the training images by
    # 0.5 in each of 9 pixels: sqrt(9 * 0.25) = 1.5.
    assert result["nn_distance_generated"] == pytest.approx(1.5)
    assert result["nn_distance_heldout"] == pytest.approx(1.5)


def test_nearest_neighbours_finds_exact_match():
    rng = np.random.default_rng(21)
    points = rng.standard_normal((50, 4, 4, 1))
    queries = points[[7, 3, 42]] + 0.01
    indices, distances = metrics.nearest_neighbours(queries, points)
    np.testing.assert_array_equal(indices, [7, 3, 42])
    np.testing.assert_allclose(distances, 0.04, rtol=1e-4)


# Two-sample test


def test_two_sample_same_distribution_is_chance():
    rng = np.random.default_rng(14)
    accuracy = metrics.two_sample_test(
        rng.standard_normal((2000, 16)), rng.standard_normal((2000, 16))
    )
    assert 0.45 < accuracy < 0.55


def test_two_sample_separated_distributions_is_one():
    rng = np.random.default_rng(15)
    accuracy = metrics.two_sample_test(
        rng.standard_normal((500, 16)), rng.standard_normal((500, 16)) + 3.0
    )
    assert accuracy > 0.99


def test_two_sample_uses_equal_set_sizes():
    # 1,000 real points against 10 generated ones. Cutting the real set to 10
    # keeps a classifier from reaching 0.99 by always predicting "real".
    rng = np.random.default_rng(16)
    accuracy = metrics.two_sample_test(
        rng.standard_normal((1000, 4)), rng.standard_normal((10, 4))
    )
    assert accuracy < 0.9


# The classifier and real images


@pytest.fixture(scope="module")
def classifier():
    return metrics.load_classifier()


@pytest.fixture(scope="module")
def real_features(classifier):
    try:
        train_images, _ = load_dataset("fashion_mnist", "train", download=False)
        test_images, _ = load_dataset("fashion_mnist", "test", download=False)
    except DatasetNotFoundError:
        pytest.skip("Fashion-MNIST is not installed, so real-image tests cannot run.")
    train_features = metrics.classifier_outputs(train_images[:3000], classifier)
    test_features = metrics.classifier_outputs(test_images[:3000], classifier)
    return train_features, test_features, test_images[:3000], train_images[:3000]


def test_load_classifier_rejects_changed_file(tmp_path):
    changed = tmp_path / "classifier.keras"
    shutil.copy(metrics.CLASSIFIER_DIR / "fashion_mnist_classifier.keras", changed)
    with open(changed, "ab") as file:
        file.write(b"extra bytes")
    expected = metrics.CLASSIFIER_SHA256["fashion_mnist"]
    with pytest.raises(ChecksumError) as raised:
        metrics.load_classifier(path=changed)
    message = str(raised.value)
    assert str(changed) in message
    assert f"Expected sha256={expected}" in message
    assert "Received: sha256=" in message
    assert isinstance(raised.value, ValueError)


def test_load_classifier_without_known_digest():
    with pytest.raises(ValueError, match="No SHA-256 is known"):
        metrics.load_classifier("mnist")


def test_load_classifier_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="train_classifier.py"):
        metrics.load_classifier(path=tmp_path / "absent.keras", sha256="0" * 64)


def test_classifier_outputs_shapes_and_ranges(classifier):
    images = np.random.default_rng(17).uniform(-1, 1, (7, 28, 28, 1)).astype("float32")
    features, probabilities = metrics.classifier_outputs(
        images, classifier, batch_size=3
    )
    assert features.shape == (7, 128)
    assert probabilities.shape == (7, 10)
    assert np.all(features >= 0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_classifier_outputs_rejects_raw_pixels(classifier):
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        metrics.classifier_outputs(np.full((2, 28, 28, 1), 255.0), classifier)


def test_classifier_accuracy_on_test_images(classifier, real_features):
    _, (test_features, test_probabilities), _, _ = real_features
    _, test_labels = load_dataset("fashion_mnist", "test", download=False)
    accuracy = np.mean(test_probabilities.argmax(axis=1) == test_labels[:3000])
    assert accuracy > 0.9


def test_two_sample_halves_of_real_data_near_chance(real_features):
    _, (test_features, _), _, _ = real_features
    accuracy = metrics.two_sample_test(test_features[:1500], test_features[1500:])
    assert 0.44 < accuracy < 0.56


def test_two_sample_noise_near_one(classifier, real_features):
    _, (test_features, _), _, _ = real_features
    noise = np.random.default_rng(18).uniform(-1, 1, (1500, 28, 28, 1))
    noise_features, _ = metrics.classifier_outputs(noise.astype("float32"), classifier)
    assert metrics.two_sample_test(test_features[:1500], noise_features) > 0.98


# Reference values for 3,000 test images against 3,000 training images, from
# the committed classifier. A change means the classifier or a formula changed.
EXPECTED_REAL_FID = 0.35913
EXPECTED_REAL_KID = 0.000435
EXPECTED_REAL_PRECISION = 0.8557
EXPECTED_REAL_RECALL = 0.8473


def test_real_test_versus_train_reference_values(real_features):
    (train_features, _), (test_features, _), _, _ = real_features
    fid = metrics.frechet_distance(test_features, train_features)
    kid, _ = metrics.kernel_inception_distance(
        test_features, train_features, num_subsets=20, subset_size=1000
    )
    precision, recall = metrics.precision_recall(test_features, train_features)
    # The tolerances allow for float32 rounding in the classifier on other
    # CPUs: a few points of the 3,000 may fall on the other side of a radius.
    assert fid == pytest.approx(EXPECTED_REAL_FID, rel=2e-3)
    assert kid == pytest.approx(EXPECTED_REAL_KID, rel=2e-2)
    assert precision == pytest.approx(EXPECTED_REAL_PRECISION, abs=2e-3)
    assert recall == pytest.approx(EXPECTED_REAL_RECALL, abs=2e-3)


def test_real_data_scores_far_better_than_noise(classifier, real_features):
    (train_features, _), (test_features, _), _, _ = real_features
    noise = np.random.default_rng(19).uniform(-1, 1, (3000, 28, 28, 1))
    noise_features, _ = metrics.classifier_outputs(noise.astype("float32"), classifier)
    real_fid = metrics.frechet_distance(test_features, train_features)
    noise_fid = metrics.frechet_distance(test_features, noise_features)
    assert noise_fid > 20 * real_fid


# evaluate()


def test_evaluate_images_returns_every_metric(classifier, real_features):
    _, _, test_images, train_images = real_features
    results = metrics.evaluate(
        test_images[:500],
        test_images[500:1000],
        train_images[:1000],
        classifier=classifier,
        num_kid_subsets=5,
        kid_subset_size=200,
        memorization_samples=200,
        verbose=False,
    )
    assert tuple(results) == metrics.METRIC_NAMES
    assert results["num_samples"] == 500
    assert results["classes_covered"] == 10
    assert 0.0 <= results["precision"] <= 1.0
    assert results["memorization_ratio"] > 0.8


def test_evaluate_generator_model(classifier, real_features):
    _, _, test_images, _ = real_features
    inputs = keras.Input(shape=(8,))
    outputs = keras.layers.Reshape((28, 28, 1))(
        keras.layers.Dense(784, activation="tanh")(inputs)
    )
    generator = keras.Model(inputs, outputs)
    results = metrics.evaluate(
        generator,
        test_images[:300],
        num_samples=300,
        classifier=classifier,
        num_kid_subsets=3,
        kid_subset_size=100,
        verbose=False,
    )
    assert results["num_samples"] == 300
    assert np.isnan(results["memorization_ratio"])
    assert results["fid"] > 0
    assert results["two_sample_accuracy"] > 0.9


def test_generate_images_from_gan_is_seeded():
    generator, discriminator = build_models("mlp", latent_dim=8)
    gan = GAN(generator, discriminator, latent_dim=8)
    first = metrics.generate_images(gan, 20, seed=3, batch_size=7)
    second = metrics.generate_images(gan, 20, seed=3, batch_size=7)
    assert first.shape == (20, 28, 28, 1)
    np.testing.assert_array_equal(first, second)
    assert np.all(np.abs(first) <= 1.0)


def test_generate_images_truncation_scales_latent_vectors():
    generator, _ = build_models("mlp", latent_dim=8)
    truncated = metrics.generate_images(generator, 6, seed=4, truncation=0.3)
    latent_vectors = 0.3 * np.random.default_rng(4).standard_normal((6, 8))
    expected = keras.ops.convert_to_numpy(generator(latent_vectors, training=False))
    np.testing.assert_allclose(truncated, expected, atol=1e-6)


def test_generate_images_truncation_reaches_gan():
    generator, discriminator = build_models("mlp", latent_dim=8)
    gan = GAN(generator, discriminator, latent_dim=8)
    np.testing.assert_array_equal(
        metrics.generate_images(gan, 5, seed=1, truncation=0.5),
        gan.generate(5, seed=1, truncation=0.5),
    )
    with pytest.raises(ValueError, match="Received: truncation=0"):
        metrics.generate_images(gan, 5, truncation=0)


def test_generate_images_rejects_other_objects():
    with pytest.raises(TypeError, match="Received: generator of type str"):
        metrics.generate_images("dcgan", 10)
