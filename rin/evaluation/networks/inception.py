"""The FID Inception-v3 (TensorFlow graph of 2015-12-05) in plain torch.nn: pool3 features and logits.

FID numbers are comparable across papers only when they come from this one network: the
TF Inception graph used by the original FID code (Heusel et al. 2017) and by pytorch-fid.
It differs from torchvision's Inception-v3 in 1008 output classes, average pools that
leave padding out of the mean (TF semantics) and a max pool in the last block's pool branch.
Parameter names equal those of pytorch-fid's `fid_inception_v3()`, so its weight file
`pt_inception-2015-12-05-6726825d.pth` loads strictly. Input handling, `resize`:
- "torch" (the default) follows pytorch-fid: images in [0, 1], torch's bilinear resize to 299x299
  (align_corners=False, half-pixel centres), then 2x - 1.
- "tf" follows the TF graph, as the original FID code, ADM's evaluator and torch-fidelity feed it:
  pixel values in [0, 255], TF1's `resize_bilinear` to 299x299 (no half-pixel centres; see
  rin.evaluation.networks.resize), then the graph's (x - 128) / 128, which maps 255 to 0.992.
The two give different features, hence different FIDs, at 32 and 64 px.

The logits are pool3 @ fc.weight.T *without* the fc bias, as the original Inception Score
code (openai/improved-gan) and torch-fidelity's default `logits_unbiased` compute them.
"""

from __future__ import annotations

import http.client
import os
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rin.errors import EvaluationError, first_line
from rin.evaluation.networks.resize import RESIZES, Resize, resize_bilinear
from rin.evaluation.networks.weights import checked_state_dict, default_cache_dir
from rin.hashing import file_sha256
from rin.progress import progress_bar

__all__ = [
    "EXTRACTOR_NAME",
    "WEIGHTS_FILE",
    "WEIGHTS_SHA256",
    "WEIGHTS_SHA256_PREFIX",
    "WEIGHTS_URL",
    "FIDInceptionV3",
    "extract_features",
    "load_fid_inception",
]

EXTRACTOR_NAME = "fid-inception-v3-2015-12-05"  # recorded in reference statistics
WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
WEIGHTS_URL = f"https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/{WEIGHTS_FILE}"
# the whole SHA-256 of pytorch-fid's file (95,628,359 bytes); its name carries the first 8 digits
# (torch.hub convention), which alone would let a forged file through
WEIGHTS_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"
WEIGHTS_SHA256_PREFIX = WEIGHTS_SHA256[:8]
INPUT_SIZE = 299
FEATURE_DIM = 2048
NUM_CLASSES = 1008  # the TF graph's 1000 ImageNet classes plus 8 unused ones

_Size = int | tuple[int, int]
_MIXED_BLOCKS = tuple(f"Mixed_{suffix}" for suffix in "5b 5c 5d 6a 6b 6c 6d 6e 7a 7b 7c".split())


class _ConvBN(nn.Module):
    """Conv (no bias) -> BatchNorm (TF's eps 0.001) -> ReLU; torchvision's BasicConv2d names."""

    def __init__(self, c_in: int, c_out: int, kernel: _Size, stride: int = 1, padding: _Size = 0):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(c_out, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _pool3x3(x: torch.Tensor, kind: Literal["avg", "max"]) -> torch.Tensor:
    """The 3x3, stride-1, same-size pool of a pool branch."""
    if kind == "max":
        return F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
    # TF's average pool divides by the number of real (unpadded) pixels
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class _InceptionA(nn.Module):
    """35x35 block: 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | avgpool-1x1 (Mixed_5b..5d)."""

    def __init__(self, channels_in: int, pool_features: int):
        super().__init__()
        self.branch1x1 = _ConvBN(channels_in, 64, 1)
        self.branch5x5_1 = _ConvBN(channels_in, 48, 1)
        self.branch5x5_2 = _ConvBN(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = _ConvBN(channels_in, 64, 1)
        self.branch3x3dbl_2 = _ConvBN(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = _ConvBN(96, 96, 3, padding=1)
        self.branch_pool = _ConvBN(channels_in, pool_features, 1)

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        return _pool3x3(x, "avg")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch5x5 = self.branch5x5_2(self.branch5x5_1(x))
        branch3x3dbl = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        branches = [self.branch1x1(x), branch5x5, branch3x3dbl, self.branch_pool(self.pool(x))]
        return torch.cat(branches, dim=1)  # (B, 224 + pool_features, 35, 35)


class _InceptionB(nn.Module):
    """Grid reduction 35 -> 17: 3x3/2 | 1x1-3x3-3x3/2 | maxpool/2 (Mixed_6a)."""

    def __init__(self, channels_in: int):
        super().__init__()
        self.branch3x3 = _ConvBN(channels_in, 384, 3, stride=2)
        self.branch3x3dbl_1 = _ConvBN(channels_in, 64, 1)
        self.branch3x3dbl_2 = _ConvBN(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = _ConvBN(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch3x3dbl = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        pooled = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([self.branch3x3(x), branch3x3dbl, pooled], dim=1)  # (B, 480 + C, 17, 17)


class _InceptionC(nn.Module):
    """17x17 block with factorised 7x7 convolutions (Mixed_6b..6e)."""

    def __init__(self, channels_in: int, channels_7x7: int):
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = _ConvBN(channels_in, 192, 1)
        self.branch7x7_1 = _ConvBN(channels_in, c7, 1)
        self.branch7x7_2 = _ConvBN(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = _ConvBN(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = _ConvBN(channels_in, c7, 1)
        self.branch7x7dbl_2 = _ConvBN(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = _ConvBN(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = _ConvBN(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = _ConvBN(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = _ConvBN(channels_in, 192, 1)

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        return _pool3x3(x, "avg")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch7x7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        branch7x7dbl = self.branch7x7dbl_1(x)
        for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            branch7x7dbl = layer(branch7x7dbl)
        branches = [self.branch1x1(x), branch7x7, branch7x7dbl, self.branch_pool(self.pool(x))]
        return torch.cat(branches, dim=1)  # (B, 768, 17, 17)


class _InceptionD(nn.Module):
    """Grid reduction 17 -> 8: 1x1-3x3/2 | 1x1-1x7-7x1-3x3/2 | maxpool/2 (Mixed_7a)."""

    def __init__(self, channels_in: int):
        super().__init__()
        self.branch3x3_1 = _ConvBN(channels_in, 192, 1)
        self.branch3x3_2 = _ConvBN(192, 320, 3, stride=2)
        self.branch7x7x3_1 = _ConvBN(channels_in, 192, 1)
        self.branch7x7x3_2 = _ConvBN(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = _ConvBN(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = _ConvBN(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch3x3 = self.branch3x3_2(self.branch3x3_1(x))
        branch7x7x3 = self.branch7x7x3_1(x)
        for layer in (self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
            branch7x7x3 = layer(branch7x7x3)
        pooled = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([branch3x3, branch7x7x3, pooled], dim=1)  # (B, 512 + C, 8, 8)


class _InceptionE(nn.Module):
    """8x8 block with split 1x3 / 3x1 outputs (Mixed_7b: average pool, Mixed_7c: max pool)."""

    def __init__(self, channels_in: int, pool_kind: Literal["avg", "max"]):
        super().__init__()
        self.pool_kind = pool_kind
        self.branch1x1 = _ConvBN(channels_in, 320, 1)
        self.branch3x3_1 = _ConvBN(channels_in, 384, 1)
        self.branch3x3_2a = _ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = _ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = _ConvBN(channels_in, 448, 1)
        self.branch3x3dbl_2 = _ConvBN(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = _ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = _ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = _ConvBN(channels_in, 192, 1)

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        # The TF graph's last block max-pools here (likely a bug in that graph, kept for comparability).
        return _pool3x3(x, self.pool_kind)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch3x3 = self.branch3x3_1(x)
        branch3x3 = torch.cat([self.branch3x3_2a(branch3x3), self.branch3x3_2b(branch3x3)], dim=1)
        dbl = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        branch3x3dbl = torch.cat([self.branch3x3dbl_3a(dbl), self.branch3x3dbl_3b(dbl)], dim=1)
        branches = [self.branch1x1(x), branch3x3, branch3x3dbl, self.branch_pool(self.pool(x))]
        return torch.cat(branches, dim=1)  # (B, 2048, 8, 8)


class FIDInceptionV3(nn.Module):
    """FID Inception-v3: images (N, C, H, W) in [0, 1], C in {1, 3} -> pool3 (N, 2048), logits (N, 1008).

    `resize` picks the input handling, "torch" (pytorch-fid's) or "tf" (the TF graph's): see the
    module docstring.
    """

    def __init__(self, resize: Resize = "torch") -> None:
        super().__init__()
        if resize not in RESIZES:
            raise ValueError(f"resize must be one of {', '.join(RESIZES)}, got {resize!r}")
        self.resize: Resize = resize
        self.Conv2d_1a_3x3 = _ConvBN(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = _ConvBN(32, 32, 3)
        self.Conv2d_2b_3x3 = _ConvBN(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = _ConvBN(64, 80, 1)
        self.Conv2d_4a_3x3 = _ConvBN(80, 192, 3)
        self.Mixed_5b = _InceptionA(192, pool_features=32)
        self.Mixed_5c = _InceptionA(256, pool_features=64)
        self.Mixed_5d = _InceptionA(288, pool_features=64)
        self.Mixed_6a = _InceptionB(288)
        self.Mixed_6b = _InceptionC(768, channels_7x7=128)
        self.Mixed_6c = _InceptionC(768, channels_7x7=160)
        self.Mixed_6d = _InceptionC(768, channels_7x7=160)
        self.Mixed_6e = _InceptionC(768, channels_7x7=192)
        self.Mixed_7a = _InceptionD(768)
        self.Mixed_7b = _InceptionE(1280, pool_kind="avg")
        self.Mixed_7c = _InceptionE(2048, pool_kind="max")
        self.fc = nn.Linear(FEATURE_DIM, NUM_CLASSES)
        self.weights_sha256: str | None = None  # set by load_fid_inception; None for random weights

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (N, 1 or 3, H, W), float in [0, 1] -> (features (N, 2048), logits (N, 1008))."""
        if images.dim() != 4 or images.shape[1] not in (1, 3):
            raise ValueError(f"expected images (N, 1 or 3, H, W), got shape {tuple(images.shape)}")
        x = images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images  # grey -> RGB
        x = self.network_input(x)  # (N, 3, 299, 299) in [-1, 1]
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))  # (N, 64, 147, 147)
        x = F.max_pool2d(x, kernel_size=3, stride=2)  # (N, 64, 73, 73)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))  # (N, 192, 71, 71)
        x = F.max_pool2d(x, kernel_size=3, stride=2)  # (N, 192, 35, 35)
        for name in _MIXED_BLOCKS:  # 35x35 -> 17x17 -> 8x8
            x = getattr(self, name)(x)  # ends at (N, 2048, 8, 8)
        features = x.mean(dim=(2, 3))  # (N, 2048) pool3
        logits = features @ self.fc.weight.T  # (N, 1008), no bias: see the module docstring
        return features, logits

    def network_input(self, images: torch.Tensor) -> torch.Tensor:
        """RGB images (N, 3, H, W) in [0, 1] -> (N, 3, 299, 299) in [-1, 1], as `resize` says."""
        if self.resize == "torch":  # pytorch-fid
            return 2.0 * resize_bilinear(images, INPUT_SIZE, "torch") - 1.0
        # the TF graph reads pixel values; k / 255 * 255 == k in float32 for every k in 0..255
        pixels = resize_bilinear(images * 255.0, INPUT_SIZE, "tf")
        return (pixels - 128.0) / 128.0


def _download(target: Path, progress: bool) -> None:
    """Fetch WEIGHTS_URL to `target`, keeping it only if its sha256 is WEIGHTS_SHA256."""
    partial = target.with_name(f"{target.name}.partial{os.getpid()}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(WEIGHTS_URL, str(partial), progress=progress)
        digest = file_sha256(partial)
        if digest != WEIGHTS_SHA256:
            raise EvaluationError(
                f"downloaded {WEIGHTS_URL} has sha256 {digest}, expected {WEIGHTS_SHA256}; it was not kept"
            )
        os.replace(partial, target)
    except (OSError, RuntimeError, ValueError, http.client.HTTPException) as error:
        raise EvaluationError(
            f"FID Inception weights are not cached and could not be downloaded ({first_line(error)}): "
            f"download {WEIGHTS_URL} and save it as {target}, or pass --inception-weights PATH"
        ) from None
    finally:
        partial.unlink(missing_ok=True)


def load_fid_inception(
    path: str | os.PathLike[str] | None = None,
    device: str | torch.device = "cpu",
    progress: bool = True,
    allow_other: bool = False,
    resize: Resize = "torch",
) -> FIDInceptionV3:
    """The FID Inception in eval mode, without gradients, on `device`, with input handling `resize`.

    Weights come from `path` if given; else from `$RIN_CACHE` (default `~/.cache/rin`)/WEIGHTS_FILE,
    downloaded there from WEIGHTS_URL first if missing. The file's whole sha256 must be
    WEIGHTS_SHA256; a file at `path` with another hash loads only with `allow_other` (its numbers
    are then not FID, and `weights_sha256` says which file it was). Raises EvaluationError (one
    line) for a missing, unreadable, foreign or unexpected file, or when the file is neither
    cached nor downloadable.
    """
    if path is not None:
        file = Path(path).expanduser()
        if not file.is_file():
            raise EvaluationError(f"FID Inception weights file {file} not found (expected {WEIGHTS_FILE})")
        digest = file_sha256(file)
        if digest != WEIGHTS_SHA256 and not allow_other:
            raise EvaluationError(
                f"{file} has sha256 {digest}, not that of {WEIGHTS_FILE} ({WEIGHTS_SHA256}): its numbers "
                "would not be FID; pass --allow-other-inception-weights to use it anyway"
            )
    else:
        file = default_cache_dir() / WEIGHTS_FILE
        if not file.is_file():
            _download(file, progress)
        digest = file_sha256(file)
        if digest != WEIGHTS_SHA256:
            raise EvaluationError(
                f"cached {file} has sha256 {digest}, expected {WEIGHTS_SHA256}: "
                f"delete it to download it again from {WEIGHTS_URL}"
            )
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for foreign or truncated files
        raise EvaluationError(f"cannot read FID Inception weights {file}: {first_line(error)}") from None
    model = FIDInceptionV3(resize)
    model.load_state_dict(checked_state_dict(state, model, file, "the FID Inception weights"), strict=True)
    model.weights_sha256 = digest
    model.requires_grad_(False)
    return model.eval().to(device)


def extract_features(
    model: FIDInceptionV3,
    images: np.ndarray | torch.Tensor,
    batch_size: int = 50,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Pool3 features (N, 2048) and logits (N, 1008), float64, of images (N, C, H, W).

    Images are uint8 in [0, 255] or float in [0, 1]; C is 1 or 3. The model runs in eval mode
    without gradients on `device` (default: where its parameters are; it is moved if needed).
    """
    shape = tuple(images.shape)
    if len(shape) != 4 or shape[0] == 0:
        raise ValueError(f"expected a non-empty (N, C, H, W) image array, got shape {shape}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    target = torch.device(device) if device is not None else next(model.parameters()).device
    model.to(target)
    was_training = model.training
    features, logits = [], []
    try:
        model.eval()
        with torch.no_grad():
            for start in progress_bar(range(0, shape[0], batch_size), disable=not progress, desc="Inception"):
                part = images[start : start + batch_size]
                # a copy per batch: read-only or memory-mapped arrays work and stay untouched
                batch = torch.from_numpy(np.array(part)) if isinstance(part, np.ndarray) else part.detach()
                features_batch, logits_batch = model(_unit_float(batch.to(target)))
                features.append(features_batch.double().cpu().numpy())
                logits.append(logits_batch.double().cpu().numpy())
    finally:
        model.train(was_training)
    return np.concatenate(features), np.concatenate(logits)


def _unit_float(batch: torch.Tensor) -> torch.Tensor:
    """uint8 images as float32 in [0, 1]; float images checked to lie in [0, 1]."""
    if batch.dtype == torch.uint8:
        return batch.float() / 255.0
    if not batch.is_floating_point():
        raise ValueError(f"images must be uint8 or float in [0, 1], got {batch.dtype}")
    low, high = float(batch.min()), float(batch.max())
    if low < 0.0 or high > 1.0:
        raise ValueError(f"float images must lie in [0, 1], got values in [{low:.3g}, {high:.3g}]")
    return batch.float()
