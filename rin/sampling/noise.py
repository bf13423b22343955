"""Where the sampler's randomness comes from: one generator for the batch, or one per sample.

With one generator per sample (each seeded from the sample's index), an image depends only on
its seed, not on which batch it was drawn in or how large that batch was: 50k evaluation samples
can be drawn in any batch size, resumed after an interruption, or spread over several GPUs and
still be the same images.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

Noise = torch.Generator | Sequence[torch.Generator] | None


def sample_seed(seed: int, index: int) -> int:
    """The seed of sample `index` of a run seeded with `seed` (distinct for distinct pairs)."""
    return (seed * 1_000_003 + index * 7_919 + 17) % (2**63 - 1)


def per_sample_generators(
    seed: int, indices: Sequence[int], device: torch.device | str = "cpu"
) -> list[torch.Generator]:
    """One generator per sample index, seeded with `sample_seed(seed, index)`."""
    return [torch.Generator(device).manual_seed(sample_seed(seed, i)) for i in indices]


def randn(
    shape: tuple[int, ...], noise: Noise, device: torch.device | str, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Standard normal (B, ...) from one generator, or row b from generator b."""
    if noise is None or isinstance(noise, torch.Generator):
        return torch.randn(shape, generator=noise, device=device, dtype=dtype)
    if len(noise) != shape[0]:
        raise ValueError(f"got {len(noise)} per-sample generators for a batch of {shape[0]}")
    rows = [torch.randn(shape[1:], generator=g, device=device, dtype=dtype) for g in noise]
    return torch.stack(rows)  # (B, ...)
