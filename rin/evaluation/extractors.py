"""Named feature extractors for `rin evaluate`: the standard FID Inception, I3D for FVD, two proxies.

Only `inception` (the TF 2015-12-05 FID Inception) gives numbers comparable with papers, printed
as FID and IS. The proxies (`cifar10-proxy`, `digits`) are small classifiers the project trains
itself, for machines where the Inception weights cannot be had; their Frechet distance is printed
as a "classifier-feature Frechet distance (proxy, not FID)". Every extractor carries a name and a
weights id that reference statistics record, so statistics of one are never compared with another.
`i3d` (the Kinetics-400 I3D, rin.evaluation.networks.i3d) reads clips (B, F, C, H, W), not images: its
400 logits are the features and the Frechet distance is printed as FVD.
The Inception's input handling is chosen by `resize`: "torch" (pytorch-fid's, the default) or
"tf" (the TF graph's, as torch-fidelity and ADM's evaluator); it is recorded with the statistics too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from rin.errors import EvaluationError
from rin.evaluation.networks.resize import RESIZES, Resize

EXTRACTORS = ("inception", "cifar10-proxy", "digits", "i3d")
PROXY_LABEL = "classifier-feature Frechet distance (proxy, not FID)"
OTHER_INCEPTION_LABEL = "Frechet distance with other Inception weights (not FID)"

# uint8 (B, C, H, W), or (B, F, C, H, W) clips for video extractors
# -> (features (B, D) float64, logits (B, K) float64 or None)
FeatureFn = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray | None]]


@dataclass(frozen=True)
class Extractor:
    name: str  # recorded in reference statistics
    weights_id: str  # which weights: checked against reference statistics
    standard: bool  # True for the FID Inception (numbers are FID and IS) and the FVD I3D
    features: FeatureFn
    video: bool = False  # True: features of uint8 clips (B, F, C, H, W)
    metric: str = "FID"  # the name of the Frechet distance when `standard`
    proxy_label: str = PROXY_LABEL  # its name otherwise
    resize: str = ""  # the Inception's input resize, "torch" or "tf"; "" for extractors without the option


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
    i3d_weights: str | None = None,
    allow_other_inception_weights: bool = False,
    resize: Resize | None = None,
) -> Extractor:
    """Build the extractor `kind` (one of EXTRACTORS); weights are loaded (or trained) here.

    Inception weights other than the FID file (allowed only with `allow_other_inception_weights`)
    give an extractor of another name, so its reference statistics never mix with real FID ones,
    and its distance is not printed as FID (nor an Inception Score). `resize` ("torch", the
    default, or "tf") is the Inception's input handling; the other extractors refuse it.
    """
    if kind == "inception":
        return _inception_extractor(
            inception_weights, device, progress, allow_other_inception_weights, resize or "torch"
        )
    if resize is not None and kind in EXTRACTORS:
        raise EvaluationError(f"--resize applies to --extractor inception only, not {kind}")
    if kind == "cifar10-proxy":
        return _cifar_proxy_extractor(proxy_data or "", progress)
    if kind == "digits":
        return _digits_extractor()
    if kind == "i3d":
        return _i3d_extractor(i3d_weights, device)
    raise EvaluationError(f"unknown extractor {kind!r}: use one of {', '.join(EXTRACTORS)}")


def _inception_extractor(
    weights: str | None, device: torch.device | str, progress: bool, allow_other: bool, resize: Resize
) -> Extractor:
    """The FID Inception; any other weights get another name, so they never pass for FID."""
    from rin.evaluation.networks.inception import (
        EXTRACTOR_NAME,
        WEIGHTS_SHA256,
        extract_features,
        load_fid_inception,
    )

    if resize not in RESIZES:  # before the weights are hashed
        raise EvaluationError(f"unknown --resize {resize!r}: use one of {', '.join(RESIZES)}")
    inception = load_fid_inception(
        weights, device=device, progress=progress, allow_other=allow_other, resize=resize
    )

    def inception_features(images: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        return extract_features(inception, images, device=device)

    digest = inception.weights_sha256 or ""
    if digest == WEIGHTS_SHA256:
        return Extractor(EXTRACTOR_NAME, digest, True, inception_features, resize=resize)
    return Extractor(f"{EXTRACTOR_NAME}+other-weights", digest, False, inception_features,
                     proxy_label=OTHER_INCEPTION_LABEL, resize=resize)  # fmt: skip


def _cifar_proxy_extractor(proxy_data: str, progress: bool) -> Extractor:
    """The project's CIFAR-10 classifier; trained on first use when not cached."""
    from rin.evaluation.networks import cifar_proxy

    model = cifar_proxy.load_or_train_cifar_proxy(proxy_data, progress=progress)

    def proxy_features(images: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        return cifar_proxy.cifar_proxy_features(model, torch.from_numpy(np.ascontiguousarray(images)))

    return Extractor(cifar_proxy.EXTRACTOR_NAME, weights_fingerprint(model), False, proxy_features)


def _digits_extractor() -> Extractor:
    """The project's MNIST classifier (features only, no logits)."""
    from rin.evaluation.networks.digits import classifier_features, load_or_train_digit_classifier

    classifier = load_or_train_digit_classifier()

    def digit_features(images: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        tensor = torch.from_numpy(np.ascontiguousarray(images))
        return classifier_features(classifier, tensor).double().numpy(), None

    return Extractor("digits-classifier-v1", weights_fingerprint(classifier), False, digit_features)


def _i3d_extractor(weights: str | None, device: torch.device | str) -> Extractor:
    """The Kinetics-400 I3D for FVD, which is computed on its logits."""
    from rin.evaluation.networks.i3d import EXTRACTOR_NAME, extract_video_features, load_i3d

    i3d = load_i3d(weights, device=device)

    def video_features(videos: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        return extract_video_features(i3d, videos, device=device)[1], None  # FVD uses the logits

    return Extractor(EXTRACTOR_NAME, i3d.weights_sha256 or "", True, video_features, video=True, metric="FVD")
