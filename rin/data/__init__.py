"""Training data: in-memory image sets, deterministic batches, pixel ranges and PNG grids.

Loaders return an `ImageSet` (uint8 images + int64 labels): the embedded MNIST 5k digits
(`mnist`), CIFAR-10 WebDataset shards (`cifar10`) or a class-folder tree (`folder`).
Video models train on a `ClipSet` (uint8 clips), e.g. Moving MNIST generated from the same
digits (`moving_mnist`); `load_video_clips` reads clips from a folder of videos or frame folders
(`video_folder`), and clip shards (`rin data video`) are streamed like image shards
(`video_webdataset`, `rin.data.clip_shards`). `load_dataset` / `load_video_dataset` pick one from
a `DataConfig` and check it fits the model. `BatchStream` turns a set into batches that depend
only on (seed, step), so resumed runs are exact.
"""

from __future__ import annotations

from rin.configs.experiment import DataConfig, ModelConfig
from rin.data.cifar import CIFAR10_CLASSES, CIFAR10_HINT, load_cifar10_shards
from rin.data.clip_shards import load_clip_shards
from rin.data.clipset import ClipSet
from rin.data.folder import load_image_folder
from rin.data.images import make_grid, save_grid
from rin.data.imageset import ImageSet
from rin.data.loader import BatchStream
from rin.data.mnist import load_mnist
from rin.data.moving_mnist import moving_mnist
from rin.data.transforms import random_flip, to_model_range, to_unit_range
from rin.data.video_folder import VideoClipSet, load_video_clips
from rin.data.video_grid import save_video_grid
from rin.errors import DataError

__all__ = [
    "CIFAR10_CLASSES",
    "BatchStream",
    "ClipSet",
    "DataError",
    "ImageSet",
    "VideoClipSet",
    "load_cifar10_shards",
    "load_dataset",
    "load_video_dataset",
    "load_image_folder",
    "load_mnist",
    "load_video_clips",
    "make_grid",
    "moving_mnist",
    "random_flip",
    "save_grid",
    "save_video_grid",
    "to_model_range",
    "to_unit_range",
]

_NATIVE_SHAPE = {"mnist": (1, 32), "cifar10": (3, 32)}  # (channels, image size) each set comes in
# the `rin data` command that makes each data set's input, named in the "data.path is empty" error
PREPARE_HINT = {
    "cifar10": CIFAR10_HINT,
    "folder": "a folder of class subfolders of images (ImageNet's train/ layout)",
}


MOVING_MNIST_SEEDS = {"train": 0, "test": 1}  # held-out clips: other digits and other trajectories


def load_video_dataset(data: DataConfig, model: ModelConfig, split: str = "train") -> ClipSet:
    """The clip data set `data` names, checked against the video `model`.

    `video_folder` reads `data.path` (videos or frame folders; `split` is ignored, as for image
    folders) and, for held-out uses, keeps the first `data.num_clips` clips. `video_webdataset`
    is streamed for training; its held-out clips are the first `data.num_clips` of the shards."""
    if data.dataset == "video_webdataset":
        if split == "train":
            raise DataError(
                "data.dataset=video_webdataset is streamed by rin train (rin.data.clip_shards), "
                "not loaded in memory"
            )
        return load_clip_shards(data.path, model.frames, model.image_size, model.channels,
                                data.num_clips, model.num_classes)  # fmt: skip
    if data.dataset == "video_folder":
        if not data.path:
            raise DataError(
                "data.dataset=video_folder needs --data PATH (a folder of videos or frame folders)"
            )
        found = load_video_clips(data.path, model.frames, model.image_size, model.channels,
                                 seed=0 if split == "train" else 1)  # fmt: skip
        keep = len(found) if split == "train" else min(len(found), data.num_clips)
        return ClipSet(found.clips[:keep], found.labels[:keep], found.class_names, found.skipped,
                       found.skipped_items)  # fmt: skip
    if data.dataset != "moving_mnist":
        raise DataError(
            "a video model (model.frames > 0) needs a clip data set (moving_mnist, video_folder or "
            f"video_webdataset), not data.dataset={data.dataset}"
        )
    if split not in MOVING_MNIST_SEEDS:
        raise DataError(f"Moving MNIST has splits train and test, not {split!r}")
    if model.channels != 1:
        raise DataError(f"Moving MNIST is grey: set model.channels=1 (got {model.channels})")
    seed = MOVING_MNIST_SEEDS[split]
    return moving_mnist(data.num_clips, model.frames, seed, split, model.image_size)  # type: ignore[arg-type]


def load_dataset(data: DataConfig, model: ModelConfig, split: str = "train") -> ImageSet:
    """The data set `data` names, checked against `model`; `split` is ignored for folders."""
    if data.holds_clips:
        raise DataError(f"{data.dataset} holds clips: it needs a video model (set model.frames > 0)")
    native = _NATIVE_SHAPE.get(data.dataset)
    if native is not None and native != (model.channels, model.image_size):
        channels, size = native
        raise DataError(
            f"{data.dataset} images are {channels}x{size}x{size} but the model expects "
            f"{model.channels}x{model.image_size}x{model.image_size}: "
            f"set model.channels={channels} and model.image_size={size}"
        )
    if data.dataset == "mnist":
        if split not in ("train", "test", "all"):
            raise DataError(f"MNIST has splits train, test and all, not {split!r}")
        images = load_mnist(split)  # type: ignore[arg-type]  # narrowed by the check above
    elif not data.path:
        raise DataError(
            f"data.path is empty: pass --data PATH; {PREPARE_HINT.get(data.dataset, '')}".rstrip("; ")
        )
    elif data.dataset == "cifar10":
        images = load_cifar10_shards(data.path, split=split)
    elif data.dataset == "folder":
        images = load_image_folder(data.path, model.image_size, model.channels, data.on_mismatch)
    elif data.dataset == "webdataset":
        raise DataError(
            "data.dataset=webdataset is streamed by rin train (rin.data.stream), not loaded in memory"
        )
    else:  # pragma: no cover - DataConfig validates the name
        raise DataError(f"unknown data.dataset {data.dataset!r}: use mnist, cifar10 or folder")
    got = (images.channels, images.image_size, int(images.images.shape[3]))
    if got != (model.channels, model.image_size, model.image_size):
        raise DataError(
            f"{data.path or data.dataset} holds {got[0]}x{got[1]}x{got[2]} images but the model expects "
            f"{model.channels}x{model.image_size}x{model.image_size}: change model.channels/image_size"
        )
    total = len(images) + images.skipped
    if images.skipped > data.max_bad_fraction * total:
        raise DataError(
            f"{images.skipped} of {total} samples in {data.path or data.dataset} could not be used "
            f"(more than data.max_bad_fraction={data.max_bad_fraction}); first: {images.skipped_items[0]}"
        )
    if model.num_classes > 0 and images.num_classes > model.num_classes:
        raise DataError(
            f"{data.path or data.dataset} has {images.num_classes} classes but the model has "
            f"model.num_classes={model.num_classes}: raise it, or set 0 for an unconditional model"
        )
    return images
