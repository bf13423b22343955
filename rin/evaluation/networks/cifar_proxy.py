"""A CIFAR-10 classifier trained by the project: a PROXY feature extractor, not the FID Inception.

FID needs the TF Inception-v3 weights (`rin.evaluation.networks.inception`), which cannot be fetched on
machines without network access. This module trains a small CNN on the CIFAR-10 training
shards instead (~9 min of CPU time, 81% test accuracy) and uses its 256-d penultimate
features in their place. The Frechet distance on these features is a "classifier-feature
Frechet distance (proxy, not FID)": useful to compare runs scored with the same weights,
never comparable with published FID numbers. Weights are cached as safetensors (tensors only, no pickle)
under `default_cache_dir()`; a cache file that does not match the network is refused.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from rin.errors import EvaluationError, first_line
from rin.evaluation.networks.threads import fixed_threads
from rin.evaluation.networks.weights import default_cache_dir
from rin.progress import progress_bar

if TYPE_CHECKING:  # rin.data pulls in config machinery; evaluation imports stay light
    from rin.data.imageset import ImageSet

__all__ = [
    "CACHE_FILE_NAME",
    "EXTRACTOR_NAME",
    "FEATURE_DIM",
    "CifarProxyClassifier",
    "cifar_proxy_features",
    "load_cifar_proxy",
    "load_or_train_cifar_proxy",
    "save_cifar_proxy",
    "train_cifar_proxy",
]

EXTRACTOR_NAME = "cifar10-proxy-v1"  # recorded in reference statistics
CACHE_FILE_NAME = "cifar10_proxy-v1.safetensors"  # bump the version when the network or recipe changes
_FORMAT = "rin-cifar10-proxy-v1"  # safetensors metadata["format"]
IMAGE_SHAPE = (3, 32, 32)
NUM_CLASSES = 10
FEATURE_DIM = 256
# Widths 32/64/128, not 64/128/256: on one EPYC core the 64/128/256 net trains at ~120 images/s,
# this one at ~400. In ~9 min, 4 epochs of this net reach 81.1% test accuracy; the wider net gets
# 1.5 epochs and ~70% (on a held-out part of the training set). The 1x1 expansion to 256 is cheap.
_WIDTHS = (32, 64, 128)
_STEM_WIDTH = 16
_PAD = 4  # random 32x32 crop of the image padded by 4 px; reflect padding measured +0.7% over zeros
# Recipe of short CIFAR runs (Page 2018, "How to train your ResNet"; Jordan 2024, airbench):
# nesterov SGD, linear warm-up then linear decay to 0, label smoothing 0.2, no decay on BN/bias.
DEFAULT_EPOCHS = 4
# CPU training always runs at this many threads (the count of the cached proxy behind the published figures)
TRAIN_THREADS = 1
DEFAULT_BATCH_SIZE = 256
_LEARNING_RATE = 0.2
_MOMENTUM = 0.9
_WEIGHT_DECAY = 1e-3
_LABEL_SMOOTHING = 0.2
_WARMUP_FRACTION = 0.2
# Per-channel mean and std of the CIFAR-10 training images in [0, 1].
_MEAN = (0.4914, 0.4822, 0.4465)
_STD = (0.2470, 0.2435, 0.2616)


def _conv_bn(channels_in: int, channels_out: int, kernel: int = 3) -> tuple[nn.Conv2d, nn.BatchNorm2d]:
    conv = nn.Conv2d(channels_in, channels_out, kernel, padding=kernel // 2, bias=False)
    return conv, nn.BatchNorm2d(channels_out)


class _Stage(nn.Module):
    """conv -> max-pool -> BN -> ReLU -> conv -> BN -> ReLU: halves the size (pool before the
    first BN, as in airbench, so the BN and ReLU run on a quarter of the pixels)."""

    def __init__(self, channels_in: int, channels_out: int) -> None:
        super().__init__()
        self.conv1, self.norm1 = _conv_bn(channels_in, channels_out)
        self.conv2, self.norm2 = _conv_bn(channels_out, channels_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.norm1(F.max_pool2d(self.conv1(x), 2)))
        return F.relu(self.norm2(self.conv2(x)))


class CifarProxyClassifier(nn.Module):
    """VGG-like CNN on (B, 3, 32, 32) images in [0, 1]: 256-d average-pooled features, 10 logits."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        self.stem, self.stem_norm = _conv_bn(3, _STEM_WIDTH)
        stages, channels = [], _STEM_WIDTH
        for width in _WIDTHS:  # 32x32 -> 16x16 -> 8x8 -> 4x4
            stages.append(_Stage(channels, width))
            channels = width
        self.stages = nn.Sequential(*stages)
        self.expand, self.expand_norm = _conv_bn(channels, FEATURE_DIM, kernel=1)
        self.head = nn.Linear(FEATURE_DIM, NUM_CLASSES)
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features (B, 256) of images (B, 3, 32, 32) in [0, 1]."""
        if x.dim() != 4 or tuple(x.shape[1:]) != IMAGE_SHAPE:
            raise ValueError(f"CifarProxyClassifier expects (B, 3, 32, 32) images, got {tuple(x.shape)}")
        x = (x - self.mean) / self.std
        x = F.relu(self.stem_norm(self.stem(x)))  # (B, 16, 32, 32)
        x = self.stages(x)  # (B, 128, 4, 4)
        x = F.relu(self.expand_norm(self.expand(x)))  # (B, 256, 4, 4)
        return x.mean(dim=(2, 3))  # (B, 256) global average pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (B, 10) of images (B, 3, 32, 32) in [0, 1]."""
        return self.head(self.features(x))


def _unit_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 images as float32 in [0, 1]; float images checked to lie in [0, 1]."""
    if images.dtype == torch.uint8:
        return images.float() / 255.0
    if not images.is_floating_point():
        raise ValueError(f"images must be uint8 or float in [0, 1], got {images.dtype}")
    if images.numel() and (float(images.min()) < 0.0 or float(images.max()) > 1.0):
        raise ValueError(
            f"float images must lie in [0, 1], got [{float(images.min()):.3g}, {float(images.max()):.3g}]: "
            "map model outputs from [-1, 1] with (x + 1) / 2"
        )
    return images.float()


def _augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random crop of (B, C, H, W) from a copy reflect-padded by 4 px, then a random horizontal flip."""
    batch, channels, height, width = x.shape
    padded = F.pad(x, (_PAD, _PAD, _PAD, _PAD), mode="reflect")  # (B, C, H + 8, W + 8)
    top = torch.randint(0, 2 * _PAD + 1, (batch, 1, 1, 1), generator=generator)
    left = torch.randint(0, 2 * _PAD + 1, (batch, 1, 1, 1), generator=generator)
    rows = top + torch.arange(height).view(1, 1, height, 1)  # (B, 1, H, 1)
    cols = left + torch.arange(width).view(1, 1, 1, width)  # (B, 1, 1, W)
    images = torch.arange(batch).view(batch, 1, 1, 1)
    planes = torch.arange(channels).view(1, channels, 1, 1)
    crops = padded[images, planes, rows, cols]  # (B, C, H, W)
    flip = torch.rand(batch, generator=generator) < 0.5
    return torch.where(flip.view(batch, 1, 1, 1), crops.flip(3), crops)


def _learning_rate_factor(step: int, total: int) -> float:
    """Linear warm-up over the first 20% of steps, then linear decay to 0 (a triangular one-cycle)."""
    warmup = max(1, round(_WARMUP_FRACTION * total))
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (total - step) / max(1, total - warmup))


def _sgd(model: nn.Module, steps: int) -> tuple[torch.optim.SGD, torch.optim.lr_scheduler.LambdaLR]:
    """Nesterov SGD, weight decay on conv and linear weights only, and the triangular schedule."""
    decay = [p for p in model.parameters() if p.dim() > 1]  # conv and linear weights
    no_decay = [p for p in model.parameters() if p.dim() <= 1]  # BN scales and shifts, head bias
    optimizer = torch.optim.SGD(
        [{"params": decay, "weight_decay": _WEIGHT_DECAY}, {"params": no_decay, "weight_decay": 0.0}],
        lr=_LEARNING_RATE,
        momentum=_MOMENTUM,
        nesterov=True,
    )
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: _learning_rate_factor(step, steps))
    return optimizer, schedule


def train_cifar_proxy(
    train: ImageSet,
    epochs: int = DEFAULT_EPOCHS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    seed: int = 0,
    progress: bool = False,
    device: torch.device | str = "cpu",
) -> CifarProxyClassifier:
    """Train the proxy on uint8 (N, 3, 32, 32) images; returns it on CPU in eval mode.

    Nesterov SGD with a triangular LR schedule, random crops and flips, fp32 on CPU. The global
    RNG state is left as it was. On CPU it trains at `TRAIN_THREADS` whatever the caller's thread
    count, so results are bitwise repeatable on CPUs with the same instruction set.
    The last incomplete batch of each epoch is dropped, so BatchNorm never sees a tiny batch.
    With the defaults on the 50,000 CIFAR-10 training images this takes 518 s of CPU time on one
    EPYC core and reaches 81.1% on the test set (benchmarks/cifar_proxy_report.py).

    `device` (e.g. "cuda") runs the network there; the batch order and the augmentation stay on
    the CPU generator, so only the arithmetic differs (GPU kernels are not bitwise CPU ones).
    """
    threads = fixed_threads(TRAIN_THREADS) if torch.device(device).type == "cpu" else nullcontext()
    with threads:
        return _train(train, epochs, batch_size, seed, progress, device)


def _train(
    train: ImageSet, epochs: int, batch_size: int, seed: int, progress: bool, device: torch.device | str
) -> CifarProxyClassifier:
    """The body of `train_cifar_proxy`, at the caller's thread count."""
    if train.images.dim() != 4 or tuple(train.images.shape[1:]) != IMAGE_SHAPE:
        raise ValueError(f"training images must be (N, 3, 32, 32), got {tuple(train.images.shape)}")
    if epochs < 1 or batch_size < 2:
        raise ValueError(f"need epochs >= 1 and batch_size >= 2, got {epochs} and {batch_size}")
    count = len(train.images)
    if count < 2:
        raise ValueError(f"need at least 2 training images, got {count}")
    batch_size = min(batch_size, count)
    steps_per_epoch = count // batch_size
    steps = epochs * steps_per_epoch
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # weight init only; forked so the caller's RNG is untouched
        model = CifarProxyClassifier()
    # channels_last lets oneDNN skip layout conversions: ~25% faster on CPU (measured)
    model.to(device=device, memory_format=torch.channels_last).train()  # type: ignore[call-overload]
    optimizer, schedule = _sgd(model, steps)
    bar = progress_bar(total=steps, disable=not progress, desc="cifar10 proxy", unit="step")
    for _ in range(epochs):
        order = torch.randperm(count, generator=generator)
        for start in range(0, steps_per_epoch * batch_size, batch_size):
            index = order[start : start + batch_size]
            inputs = _augment(_unit_float(train.images[index]), generator).to(device)
            logits = model(inputs.contiguous(memory_format=torch.channels_last))
            targets = train.labels[index].to(device)
            loss = F.cross_entropy(logits, targets, label_smoothing=_LABEL_SMOOTHING)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            bar.update()
            bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    bar.close()
    return model.to(device="cpu", memory_format=torch.contiguous_format).eval()  # type: ignore[call-overload]


def cifar_proxy_features(
    model: CifarProxyClassifier, images: np.ndarray | torch.Tensor, batch_size: int = 500
) -> tuple[np.ndarray, np.ndarray]:
    """Features (N, 256) and logits (N, 10), float64, of images (N, 3, 32, 32), uint8 or float in [0, 1].

    The model runs in eval mode without gradients, batch by batch, on the device of its parameters;
    its previous train/eval mode is restored.
    """
    shape = tuple(images.shape)
    if len(shape) != 4 or shape[1:] != IMAGE_SHAPE:
        raise ValueError(f"expected (N, 3, 32, 32) images, got shape {shape}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    device = next(model.parameters()).device
    was_training = model.training
    features, logits = [], []
    try:
        model.eval()
        with torch.no_grad():
            for start in range(0, shape[0], batch_size):
                part = images[start : start + batch_size]
                # a copy per batch: read-only or memory-mapped arrays work and stay untouched
                batch = torch.from_numpy(np.array(part)) if isinstance(part, np.ndarray) else part.detach()
                feature = model.features(_unit_float(batch.to(device)))
                features.append(feature.double().cpu().numpy())
                logits.append(model.head(feature).double().cpu().numpy())
    finally:
        model.train(was_training)
    if not features:
        return np.zeros((0, FEATURE_DIM)), np.zeros((0, NUM_CLASSES))
    return np.concatenate(features), np.concatenate(logits)


def _checked_state_dict(state: Mapping[str, torch.Tensor], path: Path) -> dict[str, torch.Tensor]:
    """The tensors of `state` once every name, shape and dtype matches the network; else one line."""
    expected_state = CifarProxyClassifier().state_dict()
    foreign = f"{path} is not {EXTRACTOR_NAME} weights"
    for name, expected in expected_state.items():
        value = state.get(name)
        if value is None:
            raise EvaluationError(f"{foreign}: tensor {name!r} is missing")
        if value.shape != expected.shape or value.dtype != expected.dtype:
            raise EvaluationError(
                f"{foreign}: tensor {name!r} is {value.dtype} {tuple(value.shape)}, "
                f"expected {expected.dtype} {tuple(expected.shape)}"
            )
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise EvaluationError(f"{path} is corrupt: tensor {name!r} holds NaN or infinite values")
    unexpected = sorted(set(state) - set(expected_state))
    if unexpected:
        raise EvaluationError(f"{foreign}: unexpected tensor {unexpected[0]!r}")
    return dict(state)


def load_cifar_proxy(path: str | os.PathLike[str]) -> CifarProxyClassifier:
    """The proxy from a safetensors file, on CPU in eval mode; EvaluationError (one line) if it does not fit.

    Only safetensors is read (never pickle), and every tensor's name, shape and dtype is checked.
    """
    file = Path(path).expanduser()
    try:
        with safe_open(str(file), framework="pt") as handle:
            metadata = handle.metadata() or {}
            state = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise EvaluationError(
            f"cannot read {EXTRACTOR_NAME} weights {file} as safetensors ({first_line(error)}): "
            "delete it to retrain the proxy"
        ) from None
    if metadata.get("format") != _FORMAT:
        raise EvaluationError(
            f"{file} is not {EXTRACTOR_NAME} weights (metadata format {metadata.get('format')!r}, "
            f"expected {_FORMAT!r}): delete it to retrain the proxy"
        )
    model = CifarProxyClassifier()
    model.load_state_dict(_checked_state_dict(state, file), strict=True)
    return model.eval()


def save_cifar_proxy(model: CifarProxyClassifier, path: str | os.PathLike[str]) -> None:
    """Write the weights as safetensors atomically: a temporary file in the same folder, then os.replace."""
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.tmp{os.getpid()}")
    state = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    try:
        save_file(state, str(tmp), metadata={"format": _FORMAT, "extractor": EXTRACTOR_NAME})
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def load_or_train_cifar_proxy(
    data_path: str, cache_dir: Path | None = None, progress: bool = True, device: torch.device | str = "cpu"
) -> CifarProxyClassifier:
    """The cached proxy from `cache_dir` (default `default_cache_dir()`), else train it and cache it.

    Training reads the CIFAR-10 WebDataset shards at `data_path` (~9 min on a CPU, default recipe,
    seed 0). A cache file that is not the proxy's safetensors weights raises EvaluationError (one
    line) rather than being silently replaced; a cache folder that cannot be written only costs a
    warning. Returns the model on CPU in eval mode; `device` is where it trains if it must.
    """
    path = Path(cache_dir if cache_dir is not None else default_cache_dir()).expanduser() / CACHE_FILE_NAME
    if path.is_file():
        return load_cifar_proxy(path)
    if not data_path:
        raise EvaluationError(
            f"the {EXTRACTOR_NAME} weights are not cached at {path}: give the CIFAR-10 shards "
            "to train them (about 9 min on a CPU)"
        )
    from rin.data.cifar import load_cifar10_shards  # imported late: rin.data pulls in config machinery

    model = train_cifar_proxy(load_cifar10_shards(data_path, split="train"), progress=progress, device=device)
    try:
        save_cifar_proxy(model, path)
    except OSError as error:  # the trained model is still good; only the cache is lost
        warnings.warn(f"could not cache the {EXTRACTOR_NAME} weights at {path} ({error})", stacklevel=2)
    return model
