"""Inception Score, KID and precision/recall: closed forms, brute-force oracles and behaviour on known cases.

The Frechet distance has its own file (test_frechet.py: self-distance 0, diagonal closed
form, scipy sqrtm agreement on 64-d features).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from rin.evaluation.metrics import inception_score, kernel_inception_distance, precision_recall


def _confident_logits(num_classes: int, rows: int, scale: float, total_classes: int = 1008) -> np.ndarray:
    """Rows cycling through classes 0..num_classes-1, each with logit `scale` on its class and 0 elsewhere."""
    logits = np.zeros((rows, total_classes))
    logits[np.arange(rows), np.arange(rows) % num_classes] = scale
    return logits


def test_inception_score_of_constant_logits_is_one() -> None:
    """Identical predictions carry no information: IS = 1 in every split (std 0)."""
    mean, std = inception_score(np.tile(np.random.default_rng(0).normal(size=(1, 1008)), (40, 1)), splits=4)
    assert mean == pytest.approx(1.0, abs=1e-12) and std == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("scale", [50.0, 1e4])
def test_inception_score_of_k_confident_even_classes_is_k(scale: float) -> None:
    """K one-hot classes used equally in each split give IS = K, without overflow for huge logits."""
    mean, std = inception_score(_confident_logits(7, rows=7 * 3 * 4, scale=scale), splits=4)
    assert mean == pytest.approx(7.0, rel=1e-9) and std == pytest.approx(0.0, abs=1e-9)


def test_inception_score_matches_the_improved_gan_formula() -> None:
    """On random logits, IS equals exp(mean KL(p(y|x) || p(y))) per chunk, computed naively."""
    rng = np.random.default_rng(1)
    logits = rng.normal(scale=2.0, size=(50, 12))
    scores = []
    for chunk in (logits[0:16], logits[16:33], logits[33:50]):  # bounds i*N//splits, as in improved-gan
        p = np.exp(chunk) / np.exp(chunk).sum(axis=1, keepdims=True)
        marginal = p.mean(axis=0, keepdims=True)
        scores.append(np.exp(np.mean(np.sum(p * (np.log(p) - np.log(marginal)), axis=1))))
    mean, std = inception_score(logits, splits=3)
    assert mean == pytest.approx(np.mean(scores), rel=1e-12)
    assert std == pytest.approx(np.std(scores), rel=1e-9)


@pytest.mark.parametrize(
    ("logits", "splits", "match"),
    [
        (np.zeros(10), 1, "2-D"),
        (np.zeros((5, 10)), 10, "at least 10 rows"),
        (np.full((5, 10), np.nan), 1, "NaN"),
        (np.zeros((5, 10)), 0, "splits"),
    ],
)
def test_inception_score_rejects_bad_input(logits: np.ndarray, splits: int, match: str) -> None:
    """1-D logits, fewer rows than splits, NaNs and splits < 1 raise a ValueError saying which."""
    with pytest.raises(ValueError, match=match):
        inception_score(logits, splits=splits)


def _brute_force_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3, written out as pair loops."""
    m, d = x.shape

    def k(a: np.ndarray, b: np.ndarray) -> float:
        return float((a @ b / d + 1.0) ** 3)

    pairs = list(itertools.permutations(range(m), 2))
    within = sum(k(x[i], x[j]) + k(y[i], y[j]) for i, j in pairs) / len(pairs)
    across = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return within - 2.0 * across


def test_kid_matches_brute_force_unbiased_mmd() -> None:
    """Subsets as large as the sets are permutations of them: KID equals the pairwise-loop MMD^2."""
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(12, 5)), rng.normal(loc=0.4, size=(12, 5))
    mean, std = kernel_inception_distance(x, y, subsets=3, subset_size=12)
    assert mean == pytest.approx(_brute_force_mmd2(x, y), rel=1e-10) and std < 1e-12


def test_kid_is_near_zero_for_one_distribution_and_positive_for_a_shift() -> None:
    """Two samples of N(0, I) score about 0; shifting one by 0.3 per dimension scores far higher."""
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(600, 64)), rng.normal(size=(600, 64))
    shifted = rng.normal(size=(600, 64)) + 0.3
    same, _ = kernel_inception_distance(a, b, subsets=10, subset_size=300)
    different, _ = kernel_inception_distance(a, shifted, subsets=10, subset_size=300)
    assert abs(same) < 0.02 and different > 0.1 and different > 10 * abs(same)


def test_kid_clips_subset_size_to_the_smaller_set() -> None:
    """subset_size above the smaller set's size behaves exactly like subset_size = that size."""
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(50, 8)), rng.normal(size=(30, 8))
    clipped = kernel_inception_distance(a, b, subsets=5, subset_size=1000, seed=7)
    assert clipped == kernel_inception_distance(a, b, subsets=5, subset_size=30, seed=7)


@pytest.mark.parametrize(
    ("a_shape", "b_shape", "match"), [((10, 4), (10, 5), "dimensions differ"), ((1, 4), (10, 4), "rows")]
)
def test_kid_rejects_bad_shapes(a_shape: tuple[int, int], b_shape: tuple[int, int], match: str) -> None:
    """Different feature sizes and single-row sets raise a ValueError saying which."""
    with pytest.raises(ValueError, match=match):
        kernel_inception_distance(np.zeros(a_shape), np.ones(b_shape))


def _brute_force_precision_recall(real: np.ndarray, fake: np.ndarray, k: int) -> tuple[float, float]:
    """The Kynkaanniemi et al. definition with explicit pairwise distances."""

    def radii(points: np.ndarray) -> np.ndarray:
        distances = np.linalg.norm(points[:, None] - points[None], axis=-1)
        return np.sort(distances, axis=1)[:, k]  # column 0 is the point itself

    def covered(queries: np.ndarray, centres: np.ndarray) -> float:
        distances = np.linalg.norm(queries[:, None] - centres[None], axis=-1)
        return float(np.mean((distances <= radii(centres)[None]).any(axis=1)))

    return covered(fake, real), covered(real, fake)


def test_precision_recall_match_brute_force_for_any_batch_size() -> None:
    """Batched float64 distances give the definition's values, whatever the batch size."""
    rng = np.random.default_rng(5)
    real, fake = rng.normal(size=(40, 3)), rng.normal(loc=0.7, scale=1.3, size=(30, 3))
    expected = _brute_force_precision_recall(real, fake, k=3)
    assert 0.0 < expected[0] < 1.0 and 0.0 < expected[1] < 1.0  # a case that can tell values apart
    assert precision_recall(real, fake, k=3, batch_size=7) == pytest.approx(expected, abs=1e-12)
    assert precision_recall(real, fake, k=3, batch_size=1000) == pytest.approx(expected, abs=1e-12)


def test_precision_recall_of_identical_sets_are_one() -> None:
    """Every point lies in its own k-NN ball: identical sets score precision = recall = 1."""
    features = np.random.default_rng(6).normal(size=(100, 16))
    assert precision_recall(features, features.copy()) == (1.0, 1.0)


def test_precision_recall_of_disjoint_sets_are_zero() -> None:
    """Clusters far apart relative to their k-NN radii score precision = recall = 0."""
    rng = np.random.default_rng(7)
    real, fake = rng.normal(size=(100, 16)), rng.normal(size=(100, 16)) + 50.0
    assert precision_recall(real, fake) == (0.0, 0.0)


def test_mode_dropping_lowers_recall_not_precision() -> None:
    """Fakes covering one of two real modes keep high precision and get about half the recall."""
    rng = np.random.default_rng(8)
    real = np.concatenate([rng.normal(size=(200, 8)), rng.normal(size=(200, 8)) + 20.0])
    fake = rng.normal(size=(200, 8))
    precision, recall = precision_recall(real, fake)
    assert precision > 0.8 and 0.35 < recall < 0.55


@pytest.mark.parametrize(
    ("real", "fake", "k", "match"),
    [
        (np.zeros((3, 4)), np.zeros((10, 4)), 3, "at least 4 rows"),
        (np.zeros((10, 4)), np.zeros((10, 3)), 3, "dimensions differ"),
        (np.zeros((10, 4)), np.full((10, 4), np.inf), 3, "NaN or infinite"),
        (np.zeros((10, 4)), np.zeros((10, 4)), 0, "k must be"),
    ],
)
def test_precision_recall_reject_bad_input(real: np.ndarray, fake: np.ndarray, k: int, match: str) -> None:
    """Too few rows for k neighbours, different feature sizes, infinities and k < 1 raise a ValueError."""
    with pytest.raises(ValueError, match=match):
        precision_recall(real, fake, k=k)
