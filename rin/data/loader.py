"""`BatchStream`: training batches as a pure function of (seed, step).

Sample position p = step * batch_size + i is example perm_e[p mod N] of epoch e = p // N,
where perm_e is drawn from a generator seeded with seed * 1_000_003 + e. No iterator state
exists, so a run resumed at step k sees exactly the batches an uninterrupted run would.
"""

from __future__ import annotations

import numpy as np
import torch

from rin.data.clipset import ClipSet
from rin.data.imageset import ImageSet
from rin.data.transforms import random_flip

_EPOCH_SEED_STRIDE = 1_000_003  # a prime, so (seed, epoch) pairs do not collide for epoch < stride
_FLIP_STREAM = 0x0F11  # separates the flip seeds from any other stream derived from (seed, step)
_CACHED_EPOCHS = 4


class BatchStream:
    """Shuffled, optionally flipped batches of an in-memory `ImageSet` or `ClipSet`, addressed by step."""

    def __init__(self, data: ImageSet | ClipSet, batch_size: int, seed: int, random_flip: bool) -> None:
        if len(data) == 0:
            raise ValueError("BatchStream needs a non-empty ImageSet")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        self.data = data
        self.batch_size = batch_size
        self.seed = seed
        self.random_flip = random_flip
        self._permutations: dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        """Examples in the underlying data set."""
        return len(self.data)

    def epoch_of(self, step: int) -> int:
        """The epoch that the first example of batch `step` belongs to."""
        return step * self.batch_size // len(self.data)

    def permutation(self, epoch: int) -> torch.Tensor:
        """The example order of `epoch` (int64, a permutation of range(N)); recent epochs are cached."""
        cached = self._permutations.get(epoch)
        if cached is None:
            generator = torch.Generator().manual_seed(self.seed * _EPOCH_SEED_STRIDE + epoch)
            cached = torch.randperm(len(self.data), generator=generator)
            if len(self._permutations) >= _CACHED_EPOCHS:
                self._permutations.pop(next(iter(self._permutations)))  # oldest insertion
            self._permutations[epoch] = cached
        return cached

    def indices(self, step: int) -> torch.Tensor:
        """Data-set indices of the examples of batch `step` (a batch may straddle two epochs)."""
        if step < 0:
            raise ValueError(f"step must be >= 0, got {step}")
        n = len(self.data)
        positions = torch.arange(step * self.batch_size, (step + 1) * self.batch_size)
        epochs = positions // n
        out = torch.empty(self.batch_size, dtype=torch.int64)
        for epoch in torch.unique(epochs).tolist():
            here = epochs == epoch
            out[here] = self.permutation(int(epoch))[positions[here] % n]
        return out

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(uint8 images (B, C, H, W) or clips (B, F, C, H, W), int64 labels (B,)) of training step `step`."""
        index = self.indices(step)
        pixels = self.data.clips if isinstance(self.data, ClipSet) else self.data.images
        images = pixels.index_select(0, index)
        if self.random_flip:
            images = random_flip(images, self._flip_generator(step))
        return images, self.data.labels.index_select(0, index)

    def _flip_generator(self, step: int) -> torch.Generator:
        # SeedSequence mixes (seed, step) into well-spread bits, unrelated to the epoch seeds.
        state = np.random.SeedSequence((self.seed, step, _FLIP_STREAM)).generate_state(1, dtype=np.uint64)
        return torch.Generator().manual_seed(int(state[0]))
