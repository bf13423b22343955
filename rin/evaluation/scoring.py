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
from rin.evaluation.metrics import inception_score, precision_recall
from rin.evaluation.reference import ReferenceStats

__all__ = ["PROXY_LABEL", "extract", "score_samples"]


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
    samples: np.ndarray, reference: ReferenceStats, extractor: Extractor, batch_size: int = 250
) -> dict[str, Any]:
    """FID, FVD or the proxy distance, IS (standard image extractor only), precision and recall.

    `samples` are uint8 (N, C, H, W) images, or (N, F, C, H, W) clips for a video extractor; N >= 2.
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
    if extractor.standard and logits is not None:
        splits = min(10, len(logits))  # the standard 10 splits; fewer for tiny test sets
        result["inception_score"], result["inception_score_std"] = inception_score(logits, splits)
    return result
