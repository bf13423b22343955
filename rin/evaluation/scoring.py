"""Score generated images against reference statistics with one named extractor.

The Frechet distance uses the reference's stored mu/sigma; precision/recall (k=3) use its stored
features; the Inception Score is reported only for the standard Inception (its 1008 logits).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rin.errors import EvaluationError
from rin.evaluation.extractors import PROXY_LABEL, Extractor
from rin.evaluation.frechet import feature_statistics, frechet_distance_from_statistics
from rin.evaluation.metrics import inception_score, kernel_inception_distance, precision_recall
from rin.evaluation.reference import ReferenceStats

KID_SUBSETS, KID_SUBSET_SIZE = 100, 1000

__all__ = ["KID_SUBSETS", "KID_SUBSET_SIZE", "PROXY_LABEL", "extract", "score_samples"]


def extract(
    extractor: Extractor, images: np.ndarray, batch_size: int = 250
) -> tuple[np.ndarray, np.ndarray | None]:
    """Features (and logits, if any) of uint8 (N, C, H, W) images or (N, F, C, H, W) clips, in batches."""
    features, logits = [], []
    for start in range(0, len(images), batch_size):
        batch_features, batch_logits = extractor.features(images[start : start + batch_size])
        features.append(batch_features)
        if batch_logits is not None:
            logits.append(batch_logits)
    return np.concatenate(features), (np.concatenate(logits) if logits else None)


def score_samples(
    samples: np.ndarray,
    reference: ReferenceStats,
    extractor: Extractor,
    batch_size: int = 250,
    kid_subsets: int = KID_SUBSETS,
) -> dict[str, Any]:
    """FID, FVD or the proxy distance, KID, IS (standard image extractor only), precision and recall.

    `samples` are uint8 (N, C, H, W) images, or (N, F, C, H, W) clips for a video extractor; N >= 2.
    `kid_subsets=0` skips KID (its 100 subsets cost seconds; evaluations during training skip it).
    """
    layout = "(N, F, C, H, W) clips" if extractor.video else "(N, C, H, W) images"
    if samples.dtype != np.uint8 or samples.ndim != (5 if extractor.video else 4):
        raise EvaluationError(
            f"{extractor.name} scores uint8 {layout}, got {samples.dtype} {tuple(samples.shape)}"
        )
    if reference.extractor != extractor.name:
        raise EvaluationError(
            f"reference statistics were made with {reference.extractor}, not {extractor.name}: "
            "recompute them with `rin evaluate stats` and the same --extractor"
        )
    reference.check_resize(extractor.resize)
    reference.check_resolution(int(samples.shape[-2]), int(samples.shape[-1]))
    features, logits = extract(extractor, samples, batch_size)
    mu, sigma = feature_statistics(features)
    distance = frechet_distance_from_statistics(mu, sigma, reference.mu, reference.sigma)
    precision, recall = precision_recall(reference.features.astype(np.float64), features, k=3)
    result: dict[str, Any] = {
        "extractor": extractor.name,
        "metric": extractor.metric if extractor.standard else extractor.proxy_label,
        "frechet": distance,
        "precision": precision,
        "recall": recall,
        "num_samples": int(len(samples)),
        "num_reference": int(reference.num_images),
    }
    if extractor.resize:
        result["resize"] = extractor.resize
    if kid_subsets > 0:  # torch-fidelity's defaults: 100 subsets of 1000 rows, clipped to the smaller set
        size = min(KID_SUBSET_SIZE, len(features), reference.num_images)
        kid, kid_std = kernel_inception_distance(reference.features, features, kid_subsets, size)
        result.update(kid=kid, kid_std=kid_std, kid_subsets=kid_subsets, kid_subset_size=size)
    if extractor.standard and logits is not None:
        splits = min(10, len(logits))  # the standard 10 splits; fewer for tiny test sets
        result["inception_score"], result["inception_score_std"] = inception_score(logits, splits)
    return result
