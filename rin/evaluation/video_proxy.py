"""Proxy video metrics that run on a CPU for Moving MNIST: frame-prediction error and digit features.

These are *proxies*, not FVD, and every key they return says so ("proxy_..."):

1. Frame-prediction error. In frame prediction the model sees `context` true frames and
   predicts the rest; the Moving MNIST generator knows the true continuation, so each
   predicted frame can be compared with it: per-frame MSE (on [0, 1] pixels) and SSIM (Wang
   et al. 2004: 11x11 Gaussian window, sigma 1.5, K1 = 0.01, K2 = 0.03, "valid" filtering as the
   reference MATLAB code). The copy-last-context-frame baseline (predict that nothing moves) is
   reported beside it: a model that does not beat it has not learned the motion. Diffusion
   samples are one draw of a stochastic future, so these errors measure accuracy, not quality.
2. Per-frame digit-classifier features. Each 64x64 frame (two digits) is downsized to 32x32
   (area averaging) and fed to the project's MNIST digit classifier (rin.evaluation.networks.digits);
   its 128-d penultimate features of all generated frames and of all true frames are compared
   with the Frechet distance. The classifier was trained on single centred digits, so on
   two-digit frames its features describe stroke appearance (sharpness, digit-like shapes),
   not digit identity; the distance ignores motion, which part 1 covers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange

from rin.evaluation.frechet import frechet_distance
from rin.evaluation.networks.digits import IMAGE_SHAPE, DigitClassifier, classifier_features

__all__ = [
    "DIGIT_FRAME_LABEL",
    "digit_frame_features",
    "digit_frame_frechet",
    "evaluate_frame_prediction",
    "frame_prediction_errors",
    "gaussian_window",
    "ssim",
]

DIGIT_FRAME_LABEL = "per-frame digit-classifier Frechet distance (proxy, not FVD)"
_K1, _K2 = 0.01, 0.03  # SSIM stabilising constants (Wang et al. 2004)


def gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Normalised 1-D Gaussian (size,), float64."""
    if size < 1 or sigma <= 0:
        raise ValueError(f"window size must be >= 1 and sigma > 0, got {size} and {sigma}")
    offsets = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    weights = torch.exp(-(offsets**2) / (2 * sigma**2))
    return weights / weights.sum()


def _blur(x: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian filter of (N, C, H, W), "valid" (no padding), per channel."""
    channels = x.shape[1]
    rows = window.view(1, 1, -1, 1).expand(channels, 1, -1, 1)
    cols = window.view(1, 1, 1, -1).expand(channels, 1, 1, -1)
    return F.conv2d(F.conv2d(x, rows, groups=channels), cols, groups=channels)  # (N, C, H-s+1, W-s+1)


def ssim(
    x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, window_size: int = 11, sigma: float = 1.5
) -> torch.Tensor:
    """Mean SSIM of each image pair: x, y (N, C, H, W) float -> (N,) float64, 1 for identical images."""
    if x.shape != y.shape or x.dim() != 4:
        raise ValueError(f"ssim needs two (N, C, H, W) tensors of one shape, got {x.shape} and {y.shape}")
    if min(x.shape[-2:]) < window_size:
        raise ValueError(f"images {tuple(x.shape[-2:])} are smaller than the {window_size}-pixel window")
    window = gaussian_window(window_size, sigma).to(x.device)
    x, y = x.double(), y.double()
    mu_x, mu_y = _blur(x, window), _blur(y, window)
    var_x = _blur(x * x, window) - mu_x**2
    var_y = _blur(y * y, window) - mu_y**2
    cov = _blur(x * y, window) - mu_x * mu_y
    c1, c2 = (_K1 * data_range) ** 2, (_K2 * data_range) ** 2
    index = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return index.mean(dim=(1, 2, 3))  # (N,)


def _unit(videos: np.ndarray | torch.Tensor, name: str) -> torch.Tensor:
    """(N, F, C, H, W) uint8 or float in [0, 1] -> float64 tensor in [0, 1]."""
    tensor = torch.as_tensor(np.asarray(videos)) if isinstance(videos, np.ndarray) else videos.detach().cpu()
    if tensor.dim() != 5:
        raise ValueError(f"{name} must be (N, F, C, H, W), got shape {tuple(tensor.shape)}")
    if tensor.dtype == torch.uint8:
        return tensor.double() / 255.0
    if not tensor.is_floating_point() or float(tensor.min()) < 0.0 or float(tensor.max()) > 1.0:
        raise ValueError(f"{name} must be uint8 or float in [0, 1] (map model outputs with (x + 1) / 2)")
    return tensor.double()


def _per_frame(prediction: torch.Tensor, truth: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Per-future-frame MSE and SSIM, averaged over clips: two (F,) arrays."""
    n = prediction.shape[0]
    mse = ((prediction - truth) ** 2).mean(dim=(2, 3, 4)).mean(dim=0)  # (F,)
    flat = "n f c h w -> (n f) c h w"
    scores = ssim(rearrange(prediction, flat), rearrange(truth, flat)).view(n, -1).mean(dim=0)  # (F,)
    return mse.numpy(), scores.numpy()


def frame_prediction_errors(
    generated: np.ndarray | torch.Tensor, truth: np.ndarray | torch.Tensor, context: int
) -> dict[str, Any]:
    """MSE and SSIM of the predicted frames against the true continuation, and the copy-last baseline.

    `generated` and `truth` are (N, F, C, H, W) clips (uint8, or float in [0, 1]) whose first
    `context` frames are the conditioning frames; frames context..F-1 are scored.
    """
    prediction, target = _unit(generated, "generated"), _unit(truth, "truth")
    if prediction.shape != target.shape:
        raise ValueError(f"generated {tuple(prediction.shape)} and truth {tuple(target.shape)} differ")
    frames = target.shape[1]
    if not 1 <= context < frames:
        raise ValueError(f"context must be in [1, {frames - 1}] for {frames}-frame clips, got {context}")
    future = target[:, context:]  # (N, F - context, C, H, W)
    still = target[:, context - 1 : context].expand_as(future)  # the last context frame, repeated
    mse, score = _per_frame(prediction[:, context:], future)
    base_mse, base_score = _per_frame(still.contiguous(), future)
    return {
        "proxy_mse": float(mse.mean()),
        "proxy_ssim": float(score.mean()),
        "proxy_mse_per_frame": mse.tolist(),
        "proxy_ssim_per_frame": score.tolist(),
        "proxy_copy_last_mse": float(base_mse.mean()),
        "proxy_copy_last_ssim": float(base_score.mean()),
        "context_frames": context,
        "predicted_frames": frames - context,
        "num_clips": int(target.shape[0]),
    }


def digit_frame_features(
    classifier: DigitClassifier, videos: np.ndarray | torch.Tensor, batch_size: int = 500
) -> np.ndarray:
    """128-d digit-classifier features (N * F, 128), float64, of every frame resized to 32x32."""
    frames = rearrange(_unit(videos, "videos").float(), "n f c h w -> (n f) c h w")
    if frames.shape[1] != 1:
        raise ValueError(f"digit features need grey frames (C = 1), got C = {frames.shape[1]}")
    small = F.interpolate(frames, size=IMAGE_SHAPE[1:], mode="area")  # (N * F, 1, 32, 32) in [0, 1]
    return classifier_features(classifier, small.clamp(0, 1), batch_size).double().numpy()


def digit_frame_frechet(
    classifier: DigitClassifier, generated: np.ndarray | torch.Tensor, real: np.ndarray | torch.Tensor
) -> float:
    """Frechet distance between per-frame digit features of generated and real clips (a proxy)."""
    return frechet_distance(
        digit_frame_features(classifier, generated), digit_frame_features(classifier, real)
    )


def evaluate_frame_prediction(
    generated: np.ndarray | torch.Tensor,
    truth: np.ndarray | torch.Tensor,
    context: int,
    classifier: DigitClassifier | None = None,
) -> dict[str, Any]:
    """All proxies: prediction errors, and with a classifier the digit-feature distance of the
    predicted frames against the true future frames (key `proxy_digit_frame_frechet`)."""
    result = frame_prediction_errors(generated, truth, context)
    if classifier is not None:
        result["proxy_digit_frame_frechet"] = digit_frame_frechet(
            classifier, _unit(generated, "generated")[:, context:], _unit(truth, "truth")[:, context:]
        )
        result["proxy_digit_frame_label"] = DIGIT_FRAME_LABEL
    return result
