"""Frechet distance between two Gaussians fitted to feature sets (numpy only, float64).

The distance between N(mu1, S1) and N(mu2, S2) is

    ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^{1/2}).

The trace term is computed in its symmetric form tr((S1^{1/2} S2 S1^{1/2})^{1/2}) with two
symmetric eigendecompositions (tiny negative eigenvalues from round-off clipped to 0), so
rank-deficient covariances (fewer samples than feature dimensions) need no epsilon fix-up
and no scipy. Which network produced the features is the caller's business.
"""

from __future__ import annotations

import numpy as np

__all__ = ["feature_statistics", "frechet_distance", "frechet_distance_from_statistics"]


def _check_features(features: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(features, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (N, D) array, got shape {tuple(array.shape)}")
    if array.shape[0] < 2:
        raise ValueError(f"{name} needs at least 2 rows to estimate a covariance, got {array.shape[0]}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and covariance (D, D) of (N, D) features, rows as observations, in float64."""
    array = _check_features(features, "features")
    mu = array.mean(axis=0)
    sigma = np.atleast_2d(np.cov(array, rowvar=False))
    return mu, sigma


def _symmetric_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Principal square root of a symmetric positive semi-definite matrix."""
    eigenvalues, eigenvectors = np.linalg.eigh(matrix)
    roots = np.sqrt(np.clip(eigenvalues, 0.0, None))
    return (eigenvectors * roots) @ eigenvectors.T


def frechet_distance_from_statistics(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray
) -> float:
    """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2), computed in float64."""
    mu1 = np.atleast_1d(np.asarray(mu1, dtype=np.float64))
    mu2 = np.atleast_1d(np.asarray(mu2, dtype=np.float64))
    sigma1 = np.atleast_2d(np.asarray(sigma1, dtype=np.float64))
    sigma2 = np.atleast_2d(np.asarray(sigma2, dtype=np.float64))
    if mu1.ndim != 1 or mu1.shape != mu2.shape:
        raise ValueError(f"means must be 1-D of equal length, got shapes {mu1.shape} and {mu2.shape}")
    dim = mu1.shape[0]
    if sigma1.shape != (dim, dim) or sigma2.shape != (dim, dim):
        raise ValueError(
            f"covariances must be ({dim}, {dim}) to match the means, got {sigma1.shape} and {sigma2.shape}"
        )
    # Symmetrise first: np.cov output is symmetric only up to round-off, and eigh reads one triangle.
    sigma1 = (sigma1 + sigma1.T) / 2.0
    sigma2 = (sigma2 + sigma2.T) / 2.0
    root1 = _symmetric_sqrt(sigma1)
    inner = root1 @ sigma2 @ root1
    inner_eigenvalues = np.linalg.eigvalsh((inner + inner.T) / 2.0)
    trace_cross = float(np.sqrt(np.clip(inner_eigenvalues, 0.0, None)).sum())
    diff = mu1 - mu2
    distance = float(diff @ diff) + float(np.trace(sigma1)) + float(np.trace(sigma2)) - 2.0 * trace_cross
    # Round-off can leave a tiny negative value for identical distributions; the true value is >= 0.
    return max(distance, 0.0)


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two (N, D) feature arrays (same D, N >= 2)."""
    a = _check_features(features_a, "features_a")
    b = _check_features(features_b, "features_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature dimensions differ: {a.shape[1]} vs {b.shape[1]}")
    mu_a, sigma_a = feature_statistics(a)
    mu_b, sigma_b = feature_statistics(b)
    return frechet_distance_from_statistics(mu_a, sigma_a, mu_b, sigma_b)
