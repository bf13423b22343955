"""Evaluation: metrics on features; extractors apart.

`frechet` holds the metric math on plain (N, D) feature arrays (numpy only, no network).
`digits` holds a small MNIST digit classifier, the feature extractor and accuracy judge for
the demo: `evaluate_digit_samples` reports conditional accuracy and the classifier-feature
Frechet distance of generated digits against held-out real ones.
`cifar_proxy` holds a CIFAR-10 classifier the project trains itself: a labelled proxy for the
FID Inception where its weights cannot be had (classifier-feature Frechet distance, not FID).
`i3d` holds the Kinetics-400 I3D whose logits give FVD; `video_proxy` holds the Moving MNIST
proxies (frame-prediction MSE/SSIM against the true future, per-frame digit features).
"""

from rin.evaluation.cifar_proxy import EXTRACTOR_NAME as CIFAR_PROXY_EXTRACTOR_NAME
from rin.evaluation.cifar_proxy import (
    CifarProxyClassifier,
    cifar_proxy_features,
    load_or_train_cifar_proxy,
    train_cifar_proxy,
)
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
from rin.evaluation.i3d import InceptionI3d, extract_video_features, load_i3d
from rin.evaluation.inception import (
    EXTRACTOR_NAME,
    WEIGHTS_FILE,
    WEIGHTS_URL,
    FIDInceptionV3,
    extract_features,
    load_fid_inception,
)
from rin.evaluation.metrics import inception_score, kernel_inception_distance, precision_recall
from rin.evaluation.reference import (
    ReferenceStats,
    compute_reference,
    image_fingerprint,
    load_reference,
    save_reference,
)
from rin.evaluation.video_proxy import evaluate_frame_prediction, frame_prediction_errors, ssim

__all__ = [
    "CIFAR_PROXY_EXTRACTOR_NAME",
    "EXTRACTOR_NAME",
    "WEIGHTS_FILE",
    "WEIGHTS_URL",
    "CifarProxyClassifier",
    "DigitClassifier",
    "FIDInceptionV3",
    "InceptionI3d",
    "ReferenceStats",
    "accuracy",
    "cifar_proxy_features",
    "classifier_features",
    "compute_reference",
    "default_cache_dir",
    "evaluate_digit_samples",
    "evaluate_frame_prediction",
    "extract_features",
    "extract_video_features",
    "feature_statistics",
    "frechet_distance",
    "frechet_distance_from_statistics",
    "frame_prediction_errors",
    "image_fingerprint",
    "inception_score",
    "kernel_inception_distance",
    "load_fid_inception",
    "load_i3d",
    "load_or_train_cifar_proxy",
    "load_or_train_digit_classifier",
    "load_reference",
    "precision_recall",
    "save_reference",
    "ssim",
    "train_cifar_proxy",
    "train_digit_classifier",
]
