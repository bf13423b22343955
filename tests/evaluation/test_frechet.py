"""Frechet distance on features: closed forms, the scipy reference and rank-deficient covariances."""

from __future__ import annotations

import numpy as np
import pytest

from rin.evaluation.frechet import feature_statistics, frechet_distance, frechet_distance_from_statistics


def _correlated(rng: np.random.Generator, n: int, d: int, shift: float = 0.0) -> np.ndarray:
    mixing = rng.normal(size=(d, d)) / np.sqrt(d)
    return rng.normal(size=(n, d)) @ mixing + shift


def _scipy_reference(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    """The classic pytorch-fid formula: tr(S1 + S2 - 2 sqrtm(S1 S2)) with scipy's sqrtm."""
    linalg = pytest.importorskip("scipy.linalg")
    covmean = linalg.sqrtm(s1.dot(s2))
    covmean = np.real(covmean)
    diff = mu1 - mu2
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def test_statistics_match_numpy() -> None:
    """feature_statistics returns the float64 column mean and the rowvar=False covariance."""
    features = _correlated(np.random.default_rng(0), 300, 8).astype(np.float32)
    mu, sigma = feature_statistics(features)
    assert mu.dtype == np.float64 and sigma.shape == (8, 8)
    np.testing.assert_allclose(mu, features.astype(np.float64).mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(features.astype(np.float64), rowvar=False), rtol=1e-12)


def test_set_with_itself_is_zero() -> None:
    """The distance of a feature set to itself is zero up to round-off (relative to its variance)."""
    features = _correlated(np.random.default_rng(1), 500, 64)
    scale = float(np.trace(np.cov(features, rowvar=False)))
    assert abs(frechet_distance(features, features)) < 1e-6 * scale


def test_diagonal_covariances_match_closed_form() -> None:
    """With diagonal covariances the distance is ||dmu||^2 + sum (sqrt(a_i) - sqrt(b_i))^2."""
    rng = np.random.default_rng(2)
    mu1, mu2 = rng.normal(size=16), rng.normal(size=16)
    a, b = rng.uniform(0.1, 3.0, size=16), rng.uniform(0.1, 3.0, size=16)
    expected = float(np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2))
    got = frechet_distance_from_statistics(mu1, np.diag(a), mu2, np.diag(b))
    assert got == pytest.approx(expected, rel=1e-10)


def test_agrees_with_scipy_sqrtm_reference() -> None:
    """On random 64-d features the eigh form matches the scipy.linalg.sqrtm formula to 1e-6 relative."""
    rng = np.random.default_rng(3)
    features_a = _correlated(rng, 1000, 64)
    features_b = _correlated(rng, 800, 64, shift=0.3)
    mu1, s1 = feature_statistics(features_a)
    mu2, s2 = feature_statistics(features_b)
    expected = _scipy_reference(mu1, s1, mu2, s2)
    assert frechet_distance(features_a, features_b) == pytest.approx(expected, rel=1e-6)


def test_rank_deficient_covariance_is_finite_and_non_negative() -> None:
    """With fewer samples than dimensions (singular covariances) the distance stays finite and >= 0."""
    rng = np.random.default_rng(4)
    distance = frechet_distance(rng.normal(size=(20, 64)), rng.normal(size=(30, 64)) + 0.1)
    assert np.isfinite(distance) and distance >= 0.0


def test_rank_deficient_equals_distance_in_the_spanned_subspace() -> None:
    """Embedding 10-d features isometrically in 64-d (singular covariances) leaves the distance unchanged."""
    rng = np.random.default_rng(5)
    low_a, low_b = _correlated(rng, 400, 10), _correlated(rng, 300, 10, shift=0.5)
    basis, _ = np.linalg.qr(rng.normal(size=(64, 10)))  # orthonormal columns
    expected = frechet_distance(low_a, low_b)
    assert frechet_distance(low_a @ basis.T, low_b @ basis.T) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    ("a_shape", "b_shape"),
    [((10,), (10, 4)), ((10, 4), (10, 5)), ((1, 4), (10, 4)), ((10, 4, 1), (10, 4))],
)
def test_bad_shapes_raise_value_error(a_shape: tuple[int, ...], b_shape: tuple[int, ...]) -> None:
    """Non-2-D inputs, different feature sizes and single rows are rejected with a ValueError."""
    with pytest.raises(ValueError):
        frechet_distance(np.zeros(a_shape), np.ones(b_shape))


def test_mismatched_statistics_raise_value_error() -> None:
    """Means and covariances of different dimensions are rejected."""
    with pytest.raises(ValueError, match="covariances"):
        frechet_distance_from_statistics(np.zeros(3), np.eye(3), np.zeros(3), np.eye(4))
