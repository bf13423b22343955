"""`ClipSet`: a whole video data set held in memory as one uint8 tensor, the video `ImageSet`."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from rin.errors import DataError


@dataclass
class ClipSet:
    """Clips (N, F, C, H, W) uint8 and their labels; the fields the training loop reads of `ImageSet`."""

    clips: torch.Tensor  # uint8 (N, F, C, H, W), C in {1, 3}
    labels: torch.Tensor  # int64 (N,)
    class_names: list[str] = field(default_factory=lambda: ["clip"])
    skipped: int = 0  # unreadable clips the loader dropped
    skipped_items: list[str] = field(default_factory=list)
    converted: int = 0

    def __post_init__(self) -> None:
        if self.clips.dtype != torch.uint8 or self.clips.dim() != 5 or self.clips.shape[2] not in (1, 3):
            raise DataError(
                f"ClipSet.clips must be uint8 (N, F, C, H, W) with C in 1 or 3, "
                f"got {self.clips.dtype} {tuple(self.clips.shape)}"
            )
        if self.labels.dtype != torch.int64 or self.labels.shape != (self.clips.shape[0],):
            raise DataError(f"ClipSet.labels must be int64 of shape ({self.clips.shape[0]},)")

    def __len__(self) -> int:
        return int(self.clips.shape[0])

    @property
    def frames(self) -> int:
        return int(self.clips.shape[1])

    @property
    def channels(self) -> int:
        return int(self.clips.shape[2])

    @property
    def image_size(self) -> int:
        return int(self.clips.shape[3])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)
