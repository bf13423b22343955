"""Evaluation: metrics on features; extractors apart.

`frechet` holds the metric math on plain (N, D) feature arrays (numpy only, no network).
`digits` holds a small MNIST digit classifier, the feature extractor and accuracy judge for
the demo: `evaluate_digit_samples` reports conditional accuracy and the classifier-feature
Frechet distance of generated digits against held-out real ones.
"""

from rin.evaluation.digits import (
    DigitClassifier,
    accuracy,
    classifier_features,
    default_cache_dir,
    evaluate_digit_samples,
    load_or_train_digit_classifier,
    train_digit_classifier,
)
from rin.evaluation.frechet import feature_statistics, frechet_distance, frechet_distance_from_statistics

__all__ = [
    "DigitClassifier",
    "accuracy",
    "classifier_features",
    "default_cache_dir",
    "evaluate_digit_samples",
    "feature_statistics",
    "frechet_distance",
    "frechet_distance_from_statistics",
    "load_or_train_digit_classifier",
    "train_digit_classifier",
]
