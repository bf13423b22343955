"""Named feature extractors for `rin evaluate`: the standard FID Inception and two labelled proxies.

Only `inception` (the TF 2015-12-05 FID Inception) gives numbers comparable with papers, printed
as FID and IS. The proxies (`cifar10-proxy`, `digits`) are small classifiers the project trains
itself, for machines where the Inception weights cannot be had; their Frechet distance is printed
as a "classifier-feature Frechet distance (proxy, not FID)". Every extractor carries a name and a
weights id that reference statistics record, so statistics of one are never compared with another.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from rin.errors import EvaluationError

EXTRACTORS = ("inception", "cifar10-proxy", "digits")

# uint8 (B, C, H, W) -> (features (B, D) float64, logits (B, K) float64 or None)
FeatureFn = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray | None]]


@dataclass(frozen=True)
class Extractor:
    name: str  # recorded in reference statistics
    weights_id: str  # which weights: checked against reference statistics
    standard: bool  # True only for the FID Inception: then the numbers are FID and IS
    features: FeatureFn


def weights_fingerprint(module: nn.Module) -> str:
    """sha256 over a module's state dict (names, shapes, bytes): identifies trained weights."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(f"{name}{tuple(tensor.shape)}{tensor.dtype}".encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def get_extractor(
    kind: str,
    inception_weights: str | None = None,
    proxy_data: str | None = None,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> Extractor:
    """Build the extractor `kind` (one of EXTRACTORS); weights are loaded (or trained) here."""
    if kind == "inception":
        from rin.evaluation.inception import EXTRACTOR_NAME, extract_features, load_fid_inception

        inception = load_fid_inception(inception_weights, device=device, progress=progress)

        def inception_features(images: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
            return extract_features(inception, images, device=device)

        return Extractor(EXTRACTOR_NAME, inception.weights_sha256 or "", True, inception_features)
    if kind == "cifar10-proxy":
        from rin.evaluation import cifar_proxy  # trains on first use when not cached

        if proxy_data is None:
            proxy_data = ""
        model = cifar_proxy.load_or_train_cifar_proxy(proxy_data, progress=progress)

        def proxy_features(images: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
            return cifar_proxy.cifar_proxy_features(model, torch.from_numpy(np.ascontiguousarray(images)))

        return Extractor(cifar_proxy.EXTRACTOR_NAME, weights_fingerprint(model), False, proxy_features)
    if kind == "digits":
        from rin.evaluation.digits import classifier_features, load_or_train_digit_classifier

        classifier = load_or_train_digit_classifier()

        def digit_features(images: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
            tensor = torch.from_numpy(np.ascontiguousarray(images))
            return classifier_features(classifier, tensor).double().numpy(), None

        return Extractor("digits-classifier-v1", weights_fingerprint(classifier), False, digit_features)
    raise EvaluationError(f"unknown extractor {kind!r}: use one of {', '.join(EXTRACTORS)}")
