"""`ImageSet`: a whole data set held in memory as one uint8 tensor plus labels.

Every data set this project trains on (MNIST 5k, CIFAR-10, a small image folder) fits in RAM
as uint8, so loaders return this one type and the training loop indexes it directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from rin.errors import DataError


@dataclass
class ImageSet:
    """Images, their class labels and the class names, all in memory."""

    images: torch.Tensor  # uint8 (N, C, H, W), C in {1, 3}
    labels: torch.Tensor  # int64 (N,), each in [0, len(class_names))
    class_names: list[str]
    skipped: int = 0  # unreadable samples the loader dropped (with a warning each)
    skipped_items: list[str] = field(default_factory=list)  # "path-or-key: reason", one per skip
    converted: int = 0  # images converted to the model's mode/size (data.on_mismatch=convert)

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise DataError(
                f"ImageSet.images must be uint8 (N, C, H, W), "
                f"got {self.images.dtype} {tuple(self.images.shape)}"
            )
        if self.images.shape[1] not in (1, 3):
            raise DataError(f"ImageSet.images must have 1 or 3 channels, got {self.images.shape[1]}")
        if self.labels.dtype != torch.int64 or self.labels.shape != (self.images.shape[0],):
            raise DataError(
                f"ImageSet.labels must be int64 of shape ({self.images.shape[0]},), "
                f"got {self.labels.dtype} {tuple(self.labels.shape)}"
            )
        if not self.class_names:
            raise DataError("ImageSet.class_names is empty: a data set needs at least one class")
        low, high = (int(self.labels.min()), int(self.labels.max())) if len(self.labels) else (0, 0)
        if low < 0 or high >= len(self.class_names):
            raise DataError(f"ImageSet.labels must lie in [0, {len(self.class_names)}), got [{low}, {high}]")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def channels(self) -> int:
        return int(self.images.shape[1])

    @property
    def image_size(self) -> int:
        """Height of the images (loaders produce square images)."""
        return int(self.images.shape[2])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def subset(self, indices: torch.Tensor | Sequence[int]) -> ImageSet:
        """The examples at `indices` (in that order), sharing class names; `skipped` is kept as provenance."""
        index = torch.as_tensor(indices, dtype=torch.int64)
        return ImageSet(
            self.images.index_select(0, index),
            self.labels.index_select(0, index),
            list(self.class_names),
            self.skipped,
            list(self.skipped_items),
            self.converted,
        )
