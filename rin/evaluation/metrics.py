"""Inception Score, Kernel Inception Distance and improved precision/recall on (N, D) arrays.

Metric math only (numpy, float64, no network): which network produced the logits or
features is the caller's business, so every formula here is testable on synthetic data.

- Inception Score (Salimans et al. 2016): exp(E_x KL(p(y|x) || p(y))), mean and std over
  `splits` consecutive chunks, as in openai/improved-gan and torch-fidelity. Pass the
  Inception logits *without* the fc bias to match those numbers (see `rin.evaluation.networks.inception`).
- Kernel Inception Distance (Binkowski et al. 2018): the unbiased MMD^2 estimate with the
  cubic polynomial kernel k(x, y) = (x.y / D + 1)^3, averaged over random subsets.
- Improved precision and recall (Kynkaanniemi et al. 2019): a point is "covered" by a set
  when it lies inside the ball around some point of that set whose radius is the distance
  to that point's k-th nearest neighbour in its own set.
"""

from __future__ import annotations

import numpy as np

__all__ = ["inception_score", "kernel_inception_distance", "precision_recall"]


def _check_matrix(array: np.ndarray, name: str, min_rows: int) -> np.ndarray:
    """`array` as a finite float64 (N, D) matrix with N >= min_rows, else a one-line ValueError."""
    matrix = np.asarray(array, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (N, D) array, got shape {tuple(matrix.shape)}")
    if matrix.shape[0] < min_rows:
        raise ValueError(f"{name} needs at least {min_rows} rows, got {matrix.shape[0]}")
    if matrix.shape[1] < 1:
        raise ValueError(f"{name} has no columns (shape {tuple(matrix.shape)})")
    if not np.all(np.isfinite(matrix)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return matrix


def _check_pair(a: np.ndarray, b: np.ndarray, names: tuple[str, str], min_rows: int) -> list[np.ndarray]:
    pair = [_check_matrix(a, names[0], min_rows), _check_matrix(b, names[1], min_rows)]
    if pair[0].shape[1] != pair[1].shape[1]:
        raise ValueError(f"feature dimensions differ: {names[0]} {pair[0].shape}, {names[1]} {pair[1].shape}")
    return pair


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax, stable for any logit scale (max subtracted before exp)."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def inception_score(logits: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """Inception Score (mean, std over `splits` chunks) of class logits (N, K), in float64.

    Rows are split into consecutive chunks `[i N // splits, (i + 1) N // splits)`, as
    improved-gan and torch-fidelity do; shuffle beforehand if the order carries structure.
    Constant logits give 1; K confident classes used equally often in each chunk give K.
    """
    if splits < 1:
        raise ValueError(f"splits must be >= 1, got {splits}")
    log_p = _log_softmax(_check_matrix(logits, "logits", min_rows=splits))  # (N, K) log p(y|x)
    count = log_p.shape[0]
    scores = []
    for i in range(splits):
        chunk = log_p[i * count // splits : (i + 1) * count // splits]  # (n, K)
        # log p(y) = log mean_x p(y|x), via a max-shifted log-sum-exp over the chunk's rows
        top = chunk.max(axis=0)
        log_marginal = top + np.log(np.exp(chunk - top).mean(axis=0))  # (K,)
        kl = (np.exp(chunk) * (chunk - log_marginal)).sum(axis=1)  # (n,) KL(p(y|x) || p(y))
        scores.append(float(np.exp(kl.mean())))
    return float(np.mean(scores)), float(np.std(scores))


def _polynomial_kernel(x: np.ndarray, y: np.ndarray, degree: int, gamma: float, coef0: float) -> np.ndarray:
    return (x @ y.T * gamma + coef0) ** degree


def _unbiased_mmd2(k_xx: np.ndarray, k_yy: np.ndarray, k_xy: np.ndarray) -> float:
    """Unbiased MMD^2 of two equal-size samples: the within-set sums leave out the diagonal."""
    m = k_xx.shape[0]
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within - 2.0 * k_xy.sum() / (m * m))


def kernel_inception_distance(
    feats_a: np.ndarray,
    feats_b: np.ndarray,
    subsets: int = 100,
    subset_size: int = 1000,
    degree: int = 3,
    gamma: float | None = None,
    coef0: float = 1.0,
    seed: int = 0,
) -> tuple[float, float]:
    """KID (mean, std over `subsets` random subsets) between feature sets (Na, D) and (Nb, D).

    Each subset draws `subset_size` rows without replacement from each set (clipped to the
    smaller set) and scores the unbiased MMD^2 with k(x, y) = (gamma x.y + coef0)^degree,
    gamma = 1 / D by default (Binkowski et al. 2018; torch-fidelity's defaults). The estimate
    is unbiased, so it can be slightly negative for two samples of one distribution.
    """
    a, b = _check_pair(feats_a, feats_b, ("feats_a", "feats_b"), min_rows=2)
    if subsets < 1:
        raise ValueError(f"subsets must be >= 1, got {subsets}")
    if degree < 1:
        raise ValueError(f"degree must be >= 1, got {degree}")
    size = min(subset_size, a.shape[0], b.shape[0])
    if size < 2:
        raise ValueError(f"subset_size must be >= 2, got {subset_size}")
    gamma = 1.0 / a.shape[1] if gamma is None else float(gamma)
    rng = np.random.default_rng(seed)
    mmds = np.empty(subsets)
    for i in range(subsets):
        x = a[rng.choice(a.shape[0], size, replace=False)]  # (m, D)
        y = b[rng.choice(b.shape[0], size, replace=False)]  # (m, D)
        mmds[i] = _unbiased_mmd2(
            _polynomial_kernel(x, x, degree, gamma, coef0),
            _polynomial_kernel(y, y, degree, gamma, coef0),
            _polynomial_kernel(x, y, degree, gamma, coef0),
        )
    return float(mmds.mean()), float(mmds.std())


def _squared_distances(x: np.ndarray, y: np.ndarray, y_sq_norms: np.ndarray) -> np.ndarray:
    """(n, m) squared Euclidean distances, clipped at 0 against round-off."""
    x_sq_norms = np.einsum("ij,ij->i", x, x)
    return np.maximum(x_sq_norms[:, None] + y_sq_norms[None, :] - 2.0 * (x @ y.T), 0.0)


def _kth_neighbour_radii(points: np.ndarray, k: int, batch_size: int) -> np.ndarray:
    """Squared distance (N,) from each point to its k-th nearest neighbour in `points`, itself excluded."""
    sq_norms = np.einsum("ij,ij->i", points, points)
    radii = np.empty(points.shape[0])
    for start in range(0, points.shape[0], batch_size):
        distances = _squared_distances(points[start : start + batch_size], points, sq_norms)  # (b, N)
        # index 0 of each sorted row is the point itself (distance 0), so index k is the k-th neighbour
        radii[start : start + batch_size] = np.partition(distances, k, axis=1)[:, k]
    return radii


def _coverage(queries: np.ndarray, centres: np.ndarray, radii: np.ndarray, batch_size: int) -> float:
    """Fraction of `queries` inside at least one ball (centre, squared radius)."""
    sq_norms = np.einsum("ij,ij->i", centres, centres)
    inside = 0
    for start in range(0, queries.shape[0], batch_size):
        distances = _squared_distances(queries[start : start + batch_size], centres, sq_norms)  # (b, M)
        inside += int((distances <= radii[None, :]).any(axis=1).sum())
    return inside / queries.shape[0]


def precision_recall(
    real: np.ndarray, fake: np.ndarray, k: int = 3, batch_size: int = 1000
) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019) of `fake` (M, D) against `real` (N, D).

    Precision is the fraction of fake points inside the k-NN ball of some real point; recall
    is the fraction of real points inside the k-NN ball of some fake point (the reference uses
    k = 3). Distances are computed in float64, `batch_size` query rows at a time, so memory is
    about 8 * batch_size * max(N, M) bytes; the cost is O((N + M)^2 D).
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    real_points, fake_points = _check_pair(real, fake, ("real", "fake"), min_rows=k + 1)
    real_radii = _kth_neighbour_radii(real_points, k, batch_size)
    fake_radii = _kth_neighbour_radii(fake_points, k, batch_size)
    precision = _coverage(fake_points, real_points, real_radii, batch_size)
    recall = _coverage(real_points, fake_points, fake_radii, batch_size)
    return precision, recall
