"""Evaluation: metrics on (N, D) features, reference statistics, and the networks that give features.

The metric math (`frechet`, `metrics`, `variety`) needs no network. The networks live in
`rin.evaluation.networks` (the FID Inception, the FVD I3D, the project's digit and CIFAR-10
proxies); `extractors.get_extractor` names them for `rin evaluate`, and `scoring.score_samples`
scores samples against a reference made by `reference.compute_reference`. Below is the public
API; everything else is imported from its module.
"""

from rin.evaluation.extractors import get_extractor
from rin.evaluation.frechet import frechet_distance
from rin.evaluation.metrics import inception_score, kernel_inception_distance, precision_recall
from rin.evaluation.networks.digits import evaluate_digit_samples, load_or_train_digit_classifier
from rin.evaluation.reference import compute_reference, load_reference, save_reference
from rin.evaluation.scoring import score_samples
from rin.evaluation.variety import relative_variety
from rin.evaluation.video_proxy import evaluate_frame_prediction

__all__ = [
    "compute_reference",
    "evaluate_digit_samples",
    "evaluate_frame_prediction",
    "frechet_distance",
    "get_extractor",
    "inception_score",
    "kernel_inception_distance",
    "load_or_train_digit_classifier",
    "load_reference",
    "precision_recall",
    "relative_variety",
    "save_reference",
    "score_samples",
]
