"""Sample-quality metrics for GANs, computed with a small Fashion-MNIST classifier.

The usual metrics (FID, KID, inception score) run images through Inception-v3,
which was trained on ImageNet photographs. For 28 x 28 grey-scale images this
module uses a small CNN trained on the dataset itself instead (see
`scripts/train_classifier.py`): its 128-unit penultimate layer, named
`"features"`, gives the feature vectors, and its softmax gives the class
probabilities. Numbers computed this way are comparable with each other, not
with published Inception-based FIDs.

Most functions take feature arrays of shape `(n, d)`, so they can be tested on
synthetic points. `evaluate` runs everything on a generator or a batch of
images in one call. Taught in notebook 05_evaluating_gans.
"""

import math
import warnings
from pathlib import Path

import keras
import numpy as np
from scipy import linalg, optimize

from ganutils.data import ChecksumError, check_image_range, sha256_file
from ganutils.gan import draw_latent_vectors

CLASSIFIER_DIR = Path(__file__).resolve().parent.parent / "data" / "classifier"
FEATURE_LAYER = "features"

# SHA-256 of each classifier file that `scripts/train_classifier.py` wrote;
# data/classifier/README.md records the command and its test accuracy. MNIST
# has no entry because its files were not available where the weights were
# trained.
CLASSIFIER_SHA256 = {
    "fashion_mnist": "4eabae51773abcae3cd4b1bc981c1393acaac2b2e99265d8c73d714df541cecd",
}

_classifier_cache = {}


def load_classifier(dataset="fashion_mnist", path=None, sha256=None):
    """Load the evaluation classifier after checking its SHA-256.

    The model is loaded from disk once per path and digest, then cached.

    Args:
        dataset: Dataset the classifier was trained on; picks the default
            path `data/classifier/<dataset>_classifier.keras` and the
            expected digest in `CLASSIFIER_SHA256`.
        path: Optional path of a `.keras` file to load instead.
        sha256: Optional expected hexadecimal SHA-256 of the file; defaults
            to `CLASSIFIER_SHA256[dataset]`.

    Returns:
        A `keras.Model` from images `(batch, 28, 28, 1)` in [-1, 1] to class
        probabilities `(batch, 10)`, with a layer named `"features"`.

    Raises:
        ValueError: If no expected digest is known for `dataset` and none is
            passed.
        FileNotFoundError: If the file does not exist.
        ganutils.data.ChecksumError: A `ValueError` raised when the file's
            SHA-256 differs from the expected one.
    """
    path = (
        Path(path)
        if path is not None
        else CLASSIFIER_DIR / f"{dataset}_classifier.keras"
    )
    expected = sha256 if sha256 is not None else CLASSIFIER_SHA256.get(dataset)
    if expected is None:
        raise ValueError(
            f"No SHA-256 is known for the {dataset!r} classifier. Expected one of "
            f"{sorted(CLASSIFIER_SHA256)}, or pass sha256= with the digest that "
            f"scripts/train_classifier.py printed. Received: dataset={dataset!r}"
        )
    if not path.is_file():
        raise FileNotFoundError(
            f"The evaluation classifier {path} does not exist. Train it with "
            f"`PYTHONPATH=. python scripts/train_classifier.py --dataset {dataset}`."
        )
    received = sha256_file(path)
    if received != expected:
        raise ChecksumError(
            f"The SHA-256 of the evaluation classifier {path} differs from the "
            f"expected one, so the file was changed or replaced. Expected "
            f"sha256={expected}. Received: sha256={received}. Restore the file "
            "from git, or pass the digest of a classifier you trained yourself."
        )
    key = (str(path.resolve()), received)
    if key not in _classifier_cache:
        _classifier_cache[key] = keras.saving.load_model(path, compile=False)
    return _classifier_cache[key]


def classifier_outputs(images, classifier=None, batch_size=500):
    """Run images through the classifier and return features and probabilities.

    Args:
        images: float32 array `(n, 28, 28, 1)` in [-1, 1].
        classifier: A model from `load_classifier`; loads the Fashion-MNIST
            one when `None`.
        batch_size: Images per forward pass.

    Returns:
        A tuple `(features, probabilities)`: float64 arrays `(n, 128)` from
        the `"features"` layer (ReLU outputs, so >= 0) and `(n, 10)` rows
        that sum to 1.
    """
    images = _check_images(images, "images")
    if classifier is None:
        classifier = load_classifier()
    two_outputs = keras.Model(
        classifier.inputs[0],
        [classifier.get_layer(FEATURE_LAYER).output, classifier.outputs[0]],
    )
    features, probabilities = [], []
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size]
        batch_features, batch_probabilities = two_outputs(batch, training=False)
        features.append(keras.ops.convert_to_numpy(batch_features))
        probabilities.append(keras.ops.convert_to_numpy(batch_probabilities))
    return (
        np.concatenate(features).astype(np.float64),
        np.concatenate(probabilities).astype(np.float64),
    )


def _check_images(images, name):
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4:
        raise ValueError(
            f"{name} must have shape (n, height, width, channels). "
            f"Received: {name}.shape={images.shape}"
        )
    check_image_range(images, name)
    return images


def _check_features(features, name, min_rows=2, dtype=np.float64):
    features = np.asarray(features, dtype=dtype)
    if features.ndim != 2 or len(features) < min_rows:
        raise ValueError(
            f"{name} must be a 2-D array (n, d) with n >= {min_rows}. "
            f"Received: {name}.shape={features.shape}"
        )
    if not np.all(np.isfinite(features)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return features


def _check_same_width(features_a, features_b):
    if features_a.shape[1] != features_b.shape[1]:
        raise ValueError(
            "Both feature arrays must have the same width d. Received: "
            f"shapes {features_a.shape} and {features_b.shape}"
        )


def _sqrtm_or_none(matrix):
    """Return `scipy.linalg.sqrtm(matrix)`, or `None` when the matrix is singular."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", linalg.LinAlgWarning)
        try:
            root = linalg.sqrtm(matrix)
        except linalg.LinAlgWarning:
            return None
    return root if np.all(np.isfinite(root)) else None


def frechet_distance_from_statistics(mean_a, covariance_a, mean_b, covariance_b):
    """Compute the Fréchet distance between two Gaussians.

    `||mean_a - mean_b||^2 + Tr(covariance_a + covariance_b - 2 sqrtm(covariance_a
    covariance_b))`, with the matrix square root from `scipy.linalg.sqrtm`.
    Rounding can give the square root a tiny imaginary part, which is
    dropped. When the product is singular (fewer samples than dimensions,
    or a feature that never varies), which makes SciPy warn or return
    non-finite values, `1e-6` is added to both diagonals first.

    Args:
        mean_a: Mean vector `(d,)`.
        covariance_a: Covariance matrix `(d, d)`.
        mean_b: Mean vector `(d,)`.
        covariance_b: Covariance matrix `(d, d)`.

    Returns:
        The distance as a float, >= 0 up to rounding.

    Raises:
        ValueError: If the shapes disagree, or the square root has an
            imaginary part too large to be rounding error.

    Example:

    >>> identity = np.eye(2)
    >>> round(frechet_distance_from_statistics(
    ...     np.zeros(2), identity, np.array([3.0, 4.0]), 4 * identity), 6)
    27.0
    """
    mean_a, mean_b = np.atleast_1d(mean_a), np.atleast_1d(mean_b)
    covariance_a, covariance_b = (
        np.atleast_2d(covariance_a),
        np.atleast_2d(covariance_b),
    )
    d = mean_a.shape[0]
    if (
        mean_b.shape != (d,)
        or covariance_a.shape != (d, d)
        or covariance_b.shape != (d, d)
    ):
        raise ValueError(
            "Expected means of shape (d,) and covariances of shape (d, d). "
            f"Received: shapes {mean_a.shape}, {covariance_a.shape}, "
            f"{mean_b.shape}, {covariance_b.shape}"
        )
    difference = mean_a - mean_b
    product_root = _sqrtm_or_none(covariance_a @ covariance_b)
    if product_root is None:
        offset = 1e-6 * np.eye(d)
        product_root = linalg.sqrtm((covariance_a + offset) @ (covariance_b + offset))
    if np.iscomplexobj(product_root):
        largest_imaginary = np.max(np.abs(product_root.imag))
        if largest_imaginary > 1e-3:
            raise ValueError(
                "The matrix square root has a large imaginary part, so the "
                "covariances are not valid (symmetric positive semi-definite). "
                f"Received: max imaginary component {largest_imaginary:.3g}"
            )
        product_root = product_root.real
    trace = (
        np.trace(covariance_a) + np.trace(covariance_b) - 2.0 * np.trace(product_root)
    )
    return float(difference @ difference + trace)


def frechet_distance(features_a, features_b):
    """Compute the Fréchet distance (FID) between two sets of feature vectors.

    Each set is summarised by its mean and covariance, so two sets with the
    same first two moments score 0 even if they differ otherwise. The value
    is biased upwards for small sets, so compare only FIDs computed on equal
    numbers of samples (10,000 is the usual choice).

    Args:
        features_a: Array `(n_a, d)`, n_a >= 2.
        features_b: Array `(n_b, d)`, n_b >= 2.

    Returns:
        The distance as a float, >= 0 up to rounding; 0 for identical sets.
    """
    features_a = _check_features(features_a, "features_a")
    features_b = _check_features(features_b, "features_b")
    _check_same_width(features_a, features_b)
    return frechet_distance_from_statistics(
        features_a.mean(axis=0),
        np.cov(features_a, rowvar=False),
        features_b.mean(axis=0),
        np.cov(features_b, rowvar=False),
    )


def _polynomial_kernel(x, y):
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def kernel_inception_distance(
    features_a, features_b, num_subsets=100, subset_size=1000, seed=0
):
    """Compute the kernel inception distance (KID) between two feature sets.

    KID is the unbiased estimate of the squared maximum mean discrepancy
    (MMD^2) with the cubic polynomial kernel `k(x, y) = (x.y / d + 1)^3`,
    averaged over random subsets drawn without replacement. Unlike FID its
    expected value is 0 for two samples of one distribution, whatever the
    sample size, so single estimates can be slightly negative.

    Args:
        features_a: Array `(n_a, d)`.
        features_b: Array `(n_b, d)`.
        num_subsets: Number of random subset pairs averaged.
        subset_size: Points per subset; reduced to `min(n_a, n_b)` if larger.
        seed: Seed of the subset draws.

    Returns:
        A tuple `(mean, std)` of the MMD^2 estimates over the subsets.
    """
    features_a = _check_features(features_a, "features_a")
    features_b = _check_features(features_b, "features_b")
    _check_same_width(features_a, features_b)
    m = min(subset_size, len(features_a), len(features_b))
    rng = np.random.default_rng(seed)
    estimates = np.empty(num_subsets)
    for i in range(num_subsets):
        x = features_a[rng.choice(len(features_a), m, replace=False)]
        y = features_b[rng.choice(len(features_b), m, replace=False)]
        k_xx, k_yy, k_xy = (
            _polynomial_kernel(x, x),
            _polynomial_kernel(y, y),
            _polynomial_kernel(x, y),
        )
        # Leaving out the diagonal k(x_i, x_i) makes the within-set means unbiased.
        within_x = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
        within_y = (k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
        estimates[i] = within_x + within_y - 2.0 * k_xy.mean()
    return float(estimates.mean()), float(estimates.std())


def inception_score(probabilities, num_splits=10):
    """Compute the inception score from class probabilities.

    `exp(E_x KL(p(y|x) || p(y)))`, computed on each of `num_splits` equal
    parts of the set. It is high when each image is classified confidently
    and the classes are balanced, so it ranges from 1 to the number of
    classes. It never looks at real images, so a generator that reproduces
    one perfect image per class scores the maximum.

    Args:
        probabilities: Array `(n, num_classes)` of rows that sum to 1.
        num_splits: Number of parts the score is averaged over.

    Returns:
        A tuple `(mean, std)` over the parts.

    Example:

    >>> round(inception_score(np.eye(10), num_splits=1)[0], 6)
    10.0
    """
    probabilities = _check_features(probabilities, "probabilities", min_rows=num_splits)
    scores = []
    for part in np.array_split(probabilities, num_splits):
        marginal = part.mean(axis=0, keepdims=True)
        kl = np.sum(part * (np.log(part + 1e-12) - np.log(marginal + 1e-12)), axis=1)
        scores.append(math.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


def _squared_distances(x, y):
    squared = (
        (x * x).sum(axis=1)[:, None] + (y * y).sum(axis=1)[None, :] - 2.0 * x @ y.T
    )
    return np.maximum(squared, 0.0)


def _rows_per_batch(num_points):
    # Keep each block of pairwise distances near 2**24 entries (128 MB as
    # float64), whatever the size of the set it is measured against.
    return max(1, 2**24 // max(num_points, 1))


def _nearest_distances(queries, points):
    """Return the Euclidean distance from each query to its nearest point."""
    batch_size = _rows_per_batch(len(points))
    nearest = np.empty(len(queries))
    for start in range(0, len(queries), batch_size):
        squared = _squared_distances(queries[start : start + batch_size], points)
        nearest[start : start + batch_size] = squared.min(axis=1)
    return np.sqrt(nearest)


def nearest_neighbours(queries, points):
    """Find each query's nearest point by Euclidean distance.

    Used to show a sample next to its closest training image, the visual
    check for memorisation. Images are flattened first.

    Args:
        queries: Array `(n_queries, ...)`, for example generated images.
        points: Array `(n_points, ...)` with the same trailing shape, for
            example the training images.

    Returns:
        A tuple `(indices, distances)`: int64 `(n_queries,)` indices into
        `points` and float `(n_queries,)` distances.
    """
    queries = np.asarray(queries, dtype=np.float32)
    points = np.asarray(points, dtype=np.float32)
    queries = _check_features(
        queries.reshape(len(queries), -1), "queries", 1, np.float32
    )
    points = _check_features(points.reshape(len(points), -1), "points", 1, np.float32)
    _check_same_width(queries, points)
    batch_size = _rows_per_batch(len(points))
    indices = np.empty(len(queries), dtype=np.int64)
    for start in range(0, len(queries), batch_size):
        squared = _squared_distances(queries[start : start + batch_size], points)
        indices[start : start + batch_size] = squared.argmin(axis=1)
    distances = np.sqrt(
        ((queries - points[indices]).astype(np.float64) ** 2).sum(axis=1)
    )
    return indices, distances


def _knn_radii(features, k):
    """Return each point's distance to its k-th nearest other point in the set."""
    batch_size = _rows_per_batch(len(features))
    radii = np.empty(len(features))
    for start in range(0, len(features), batch_size):
        squared = _squared_distances(features[start : start + batch_size], features)
        # Column 0 of the sorted row is the point itself, at distance 0.
        radii[start : start + batch_size] = np.partition(squared, k, axis=1)[:, k]
    return np.sqrt(radii)


def _share_inside_manifold(queries, manifold, radii):
    """Share of queries that fall inside at least one ball around a manifold point."""
    batch_size = _rows_per_batch(len(manifold))
    inside = np.zeros(len(queries), dtype=bool)
    for start in range(0, len(queries), batch_size):
        squared = _squared_distances(queries[start : start + batch_size], manifold)
        inside[start : start + batch_size] = np.any(
            squared <= radii[None, :] ** 2, axis=1
        )
    return float(inside.mean())


def precision_recall(real_features, generated_features, k=3):
    """Compute improved precision and recall (Kynkäänniemi et al., 2019).

    Each set's manifold is the union of balls around its points, each ball
    reaching the point's k-th nearest neighbour in the same set. Precision
    is the share of generated points inside the real manifold, which
    measures how realistic the samples are. Recall is the share of real
    points inside the generated manifold, which measures how much of the
    real variety the samples cover.

    Args:
        real_features: Array `(n_real, d)`, n_real > k.
        generated_features: Array `(n_generated, d)`, n_generated > k.
        k: Neighbour that sets each ball's radius.

    Returns:
        A tuple `(precision, recall)`, both in [0, 1].
    """
    real_features = _check_features(real_features, "real_features", min_rows=k + 1)
    generated_features = _check_features(
        generated_features, "generated_features", min_rows=k + 1
    )
    _check_same_width(real_features, generated_features)
    real_radii = _knn_radii(real_features, k)
    generated_radii = _knn_radii(generated_features, k)
    precision = _share_inside_manifold(generated_features, real_features, real_radii)
    recall = _share_inside_manifold(real_features, generated_features, generated_radii)
    return precision, recall


def class_coverage(probabilities, min_share=0.02):
    """Summarise which classes the classifier predicts for a set of images.

    A collapsed generator can reach a fair FID with a few classes only, and
    this check makes that visible.

    Args:
        probabilities: Array `(n, num_classes)` of class probabilities.
        min_share: Share of the images a class needs to count as covered;
            the default 0.02 is a fifth of the uniform share for 10 classes.

    Returns:
        A dict with `class_shares` (list of `num_classes` shares of the
        predicted classes, summing to 1), `class_entropy` (entropy of those
        shares in nats, at most `ln(num_classes)`, 2.303 for 10 classes) and
        `classes_covered` (number of classes with a share >= `min_share`).
    """
    probabilities = _check_features(probabilities, "probabilities", min_rows=1)
    num_classes = probabilities.shape[1]
    predicted = probabilities.argmax(axis=1)
    shares = np.bincount(predicted, minlength=num_classes) / len(predicted)
    nonzero = shares[shares > 0]
    return {
        "class_shares": [round(float(share), 4) for share in shares],
        # Adding 0.0 turns the -0.0 of a single class into 0.0.
        "class_entropy": float(-(nonzero * np.log(nonzero)).sum()) + 0.0,
        "classes_covered": int(np.sum(shares >= min_share)),
    }


def memorization(generated, train, heldout, copy_quantile=0.01):
    """Compare how close samples and held-out real images lie to the training set.

    A generator that copies its training images gets a good FID. This check
    measures the Euclidean distance from each sample to its nearest training
    image, and compares it with the same distance for real images that were
    not trained on. Pass flattened pixels to look for copies, or
    feature vectors to look for near-duplicates in content.

    Args:
        generated: Array `(n_generated, ...)` of samples.
        train: Array `(n_train, ...)` of training images, same trailing shape.
        heldout: Array `(n_heldout, ...)` of real images not in `train`.
        copy_quantile: Quantile of the held-out distances below which a
            sample counts as a near copy.

    Returns:
        A dict with `nn_distance_generated` and `nn_distance_heldout` (median
        nearest-training-image distances), `memorization_ratio` (their
        ratio: about 1 for a generator that does not copy, well below 1 for
        one that does) and `near_copy_share` (share of samples closer to the
        training set than the `copy_quantile` quantile of held-out images,
        about `copy_quantile` when nothing is copied).
    """
    arrays = []
    for name, array in (
        ("generated", generated),
        ("train", train),
        ("heldout", heldout),
    ):
        # float32 halves the memory of a full training set of pixels.
        array = np.asarray(array, dtype=np.float32)
        arrays.append(
            _check_features(array.reshape(len(array), -1), name, 1, dtype=np.float32)
        )
    generated, train, heldout = arrays
    _check_same_width(generated, train)
    _check_same_width(heldout, train)
    generated_distances = _nearest_distances(generated, train)
    heldout_distances = _nearest_distances(heldout, train)
    threshold = np.quantile(heldout_distances, copy_quantile)
    generated_median = float(np.median(generated_distances))
    heldout_median = float(np.median(heldout_distances))
    return {
        "nn_distance_generated": generated_median,
        "nn_distance_heldout": heldout_median,
        "memorization_ratio": generated_median / max(heldout_median, 1e-12),
        "near_copy_share": float(np.mean(generated_distances < threshold)),
    }


def two_sample_test(real_features, generated_features, l2=1e-3, seed=0):
    """Run a classifier two-sample test: can a classifier tell the sets apart?

    Equal numbers of real and generated feature vectors are shuffled and
    split in half. An L2-regularised logistic regression, fitted with
    SciPy's L-BFGS on standardised features, learns real versus generated on
    one half, and its accuracy on the other half is returned. About 0.5
    means the sets are indistinguishable to a linear classifier on these
    features. 1.0 means every image is classified correctly.

    Args:
        real_features: Array `(n_real, d)`.
        generated_features: Array `(n_generated, d)`; the larger set is cut
            to the size of the smaller.
        l2: Weight of the L2 penalty on the coefficients.
        seed: Seed of the shuffle and the split.

    Returns:
        The held-out accuracy, a float in [0, 1].
    """
    real_features = _check_features(real_features, "real_features", min_rows=4)
    generated_features = _check_features(generated_features, "generated_features", 4)
    _check_same_width(real_features, generated_features)
    rng = np.random.default_rng(seed)
    n = min(len(real_features), len(generated_features))
    real_features = real_features[rng.permutation(len(real_features))[:n]]
    generated_features = generated_features[
        rng.permutation(len(generated_features))[:n]
    ]
    features = np.concatenate([real_features, generated_features])
    labels = np.concatenate([np.ones(n), np.zeros(n)])
    order = rng.permutation(2 * n)
    train_rows, test_rows = order[:n], order[n:]

    mean = features[train_rows].mean(axis=0)
    scale = features[train_rows].std(axis=0) + 1e-8
    inputs = np.hstack([(features - mean) / scale, np.ones((2 * n, 1))])
    weights = _fit_logistic_regression(inputs[train_rows], labels[train_rows], l2)
    predictions = inputs[test_rows] @ weights > 0
    return float(np.mean(predictions == labels[test_rows]))


def _fit_logistic_regression(inputs, labels, l2):
    """Fit logistic-regression weights (last column of `inputs` is the bias)."""
    signs = 2.0 * labels - 1.0

    def loss_and_gradient(weights):
        margins = signs * (inputs @ weights)
        loss = (
            np.mean(np.logaddexp(0.0, -margins))
            + 0.5 * l2 * weights[:-1] @ weights[:-1]
        )
        # d/dm log(1 + e^-m) = -sigmoid(-m)
        slopes = -signs * 0.5 * (1.0 - np.tanh(0.5 * margins))
        gradient = inputs.T @ slopes / len(labels)
        gradient[:-1] += l2 * weights[:-1]
        return loss, gradient

    result = optimize.minimize(
        loss_and_gradient,
        np.zeros(inputs.shape[1]),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 500},
    )
    return result.x


def generate_images(generator, num_samples, seed=0, batch_size=500, truncation=1.0):
    """Draw images from a `ganutils.GAN` or an unconditional generator model.

    Args:
        generator: A `ganutils.GAN` (its `generate` method is used, with the
            moving-average generator when it has one) or a `keras.Model`
            from `(batch, latent_dim)` standard normal vectors to images.
        num_samples: Number of images, >= 1.
        seed: Seed of the latent vectors.
        batch_size: Images per forward pass.
        truncation: Scale of the latent vectors, in (0, 1e6]. Below 1 it
            trades variety for typical images (see `GAN.generate`).

    Returns:
        float32 array `(num_samples, height, width, channels)` in [-1, 1].

    Raises:
        TypeError: If `generator` is neither a GAN nor a `keras.Model`.
        ValueError: If the model takes more than one input (a conditional
            generator); generate its images yourself and pass them instead.
    """
    if hasattr(generator, "generate") and hasattr(generator, "latent_dim"):
        return generator.generate(
            num_samples, seed=seed, batch_size=batch_size, truncation=truncation
        )
    if not isinstance(generator, keras.Model):
        raise TypeError(
            "Expected a ganutils.GAN, a generator keras.Model or an image array. "
            f"Received: generator of type {type(generator).__name__}"
        )
    if len(generator.inputs) != 1:
        raise ValueError(
            "Expected a generator with one input, the latent vectors. Received a "
            f"model with {len(generator.inputs)} inputs; for a conditional "
            "generator, pass the generated images instead."
        )
    latent_dim = int(generator.inputs[0].shape[-1])
    latent_vectors = draw_latent_vectors(num_samples, latent_dim, seed, truncation)
    batches = [
        keras.ops.convert_to_numpy(
            generator(latent_vectors[start : start + batch_size], training=False)
        )
        for start in range(0, num_samples, batch_size)
    ]
    return np.concatenate(batches).astype(np.float32)


METRIC_NAMES = (
    "fid",
    "kid",
    "kid_std",
    "inception_score",
    "inception_score_std",
    "precision",
    "recall",
    "class_shares",
    "class_entropy",
    "classes_covered",
    "nn_distance_generated",
    "nn_distance_heldout",
    "memorization_ratio",
    "near_copy_share",
    "two_sample_accuracy",
    "num_samples",
)


def evaluate(
    source,
    reference_images,
    train_images=None,
    *,
    num_samples=10000,
    classifier=None,
    seed=0,
    num_kid_subsets=100,
    kid_subset_size=1000,
    k=3,
    memorization_samples=1000,
    batch_size=500,
    verbose=True,
):
    """Compute every metric of this module for a generator or a set of images.

    The samples are compared with `reference_images`, real images that the
    generator was not trained on (the test set). Memorisation compares the
    samples' nearest-training-image distances, in pixel space, with those of
    `reference_images`.

    Args:
        source: A `ganutils.GAN`, a generator `keras.Model`, or an array of
            images `(n, 28, 28, 1)` in [-1, 1], all of which are used.
        reference_images: Real held-out images `(n_reference, 28, 28, 1)` in
            [-1, 1]; 10,000 (the test set) for comparable numbers.
        train_images: The generator's training images; `None` skips the
            memorisation check and returns NaN for its four values.
        num_samples: Number of images drawn from a generator.
        classifier: Model from `load_classifier`; the Fashion-MNIST one when
            `None`.
        seed: Seed of the latent vectors, the KID subsets and the two-sample
            split.
        num_kid_subsets: Subsets averaged by KID.
        kid_subset_size: Points per KID subset.
        k: Neighbour that sets the radii of precision and recall.
        memorization_samples: Samples and reference images whose nearest
            training image is searched for (the search is the slowest step).
        batch_size: Images per forward pass.
        verbose: Show a progress bar over the steps.

    Returns:
        A dict with the keys in `METRIC_NAMES`: `fid`, `kid` and `kid_std`,
        `inception_score` and its std, `precision`, `recall`, the entries of
        `class_coverage`, the entries of `memorization`,
        `two_sample_accuracy` and `num_samples`.
    """
    reference_images = _check_images(reference_images, "reference_images")
    # One tick per stage: generate, classify, FID, KID, inception score,
    # precision and recall, memorisation, two-sample test.
    progress = keras.utils.Progbar(8, verbose=1 if verbose else 0, unit_name="stage")

    if isinstance(source, np.ndarray):
        generated_images = _check_images(source, "source")
    else:
        generated_images = generate_images(source, num_samples, seed, batch_size)
    progress.add(1)

    if classifier is None:
        classifier = load_classifier()
    generated_features, generated_probabilities = classifier_outputs(
        generated_images, classifier, batch_size
    )
    reference_features, _ = classifier_outputs(reference_images, classifier, batch_size)
    progress.add(1)

    results = {"fid": frechet_distance(reference_features, generated_features)}
    progress.add(1)

    results["kid"], results["kid_std"] = kernel_inception_distance(
        reference_features, generated_features, num_kid_subsets, kid_subset_size, seed
    )
    progress.add(1)

    results["inception_score"], results["inception_score_std"] = inception_score(
        generated_probabilities
    )
    progress.add(1)

    results["precision"], results["recall"] = precision_recall(
        reference_features, generated_features, k
    )
    results.update(class_coverage(generated_probabilities))
    progress.add(1)

    if train_images is None:
        results.update(
            dict.fromkeys(
                (
                    "nn_distance_generated",
                    "nn_distance_heldout",
                    "memorization_ratio",
                    "near_copy_share",
                ),
                float("nan"),
            )
        )
    else:
        results.update(
            memorization(
                generated_images[:memorization_samples],
                _check_images(train_images, "train_images"),
                reference_images[:memorization_samples],
            )
        )
    progress.add(1)

    results["two_sample_accuracy"] = two_sample_test(
        reference_features, generated_features, seed=seed
    )
    results["num_samples"] = len(generated_images)
    progress.add(1)
    return {name: results[name] for name in METRIC_NAMES}
