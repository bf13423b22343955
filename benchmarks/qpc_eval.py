"""Sampling and scoring for `quality_per_compute.py`: every model through rin's sampler, one scorer.

All models draw the same number of samples with the same labels and the same starting noise
(per-sample generators), through the same sampler with the same settings; the network calls
are counted. Scores: the extractor's accuracy against the conditioning labels, the Frechet
distance of its features to held-out real images (a proxy, not FID) and the within-class variety
relative to the held-out images. The real-data floor is the same Frechet distance between
as many real training images, class for class, and the held-out set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from rin.configs.experiment import SamplingConfig
from rin.data.imageset import ImageSet
from rin.diffusion.schedules import get_schedule
from rin.evaluation.frechet import frechet_distance
from rin.evaluation.variety import relative_variety
from rin.sampling import DenoiseFn, per_sample_generators, sample
from rin.sampling.noise import Noise, randn

# images in [0, 1] (N, C, H, W) -> (features (N, D) float64, predicted classes (N,))
Extractor = Callable[[torch.Tensor], tuple[np.ndarray, np.ndarray]]


def run_sampler(
    denoise: DenoiseFn, x_T: torch.Tensor, sampling: SamplingConfig, clip: float, noise: Noise
) -> torch.Tensor:
    """The benchmark's one use of rin's sampler API (kept in one place so it is easy to adapt)."""
    return sample(
        denoise,
        x_T,
        get_schedule(sampling.schedule),
        sampling.steps,
        sampling.sampler,
        generator=noise,
        clip=clip if sampling.clip_x0 else None,
        time_difference=sampling.time_difference,
    )


class CountingDenoiser:
    """Counts the network evaluations behind a denoise function (guidance makes one call two)."""

    def __init__(self, denoise: DenoiseFn, evaluations_per_call: int) -> None:
        self.denoise, self.per_call, self.evaluations = denoise, evaluations_per_call, 0

    def __call__(self, x_t: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
        self.evaluations += self.per_call
        return self.denoise(x_t, gamma)


def draw_samples(
    make_denoiser: Callable[[torch.Tensor], DenoiseFn],
    shape: tuple[int, ...],
    labels: torch.Tensor,
    sampling: SamplingConfig,
    input_scale: float,
    seed: int,
    batch_size: int,
    device: torch.device | str = "cpu",
) -> tuple[torch.Tensor, int]:
    """(images in [0, 1] (N, C, H, W) on the CPU, network evaluations per image); sample i starts from
    seed (seed, i), drawn by a generator on `device` (a CUDA draw is not the CPU one)."""
    parts, evaluations = [], 0
    per_call = 2 if sampling.guidance > 0 else 1
    for start in range(0, len(labels), batch_size):
        stop = min(start + batch_size, len(labels))
        noise = per_sample_generators(seed, range(start, stop), device)
        denoise = CountingDenoiser(make_denoiser(labels[start:stop].to(device)), per_call)  # fresh carry
        x0 = run_sampler(denoise, randn((stop - start, *shape), noise, device), sampling, input_scale, noise)
        parts.append((x0 / input_scale / 2.0 + 0.5).clamp(0.0, 1.0).cpu())  # [-b, b] -> [0, 1]
        evaluations = denoise.evaluations  # per image: every call runs the whole batch
    return torch.cat(parts), evaluations


def balanced_subset(pool: ImageSet, labels: torch.Tensor, seed: int) -> torch.Tensor:
    """uint8 images from `pool` whose classes follow `labels` one for one, drawn without replacement."""
    generator = torch.Generator().manual_seed(seed)
    chosen = torch.empty(len(labels), dtype=torch.long)
    for label in torch.unique(labels).tolist():
        slots = torch.nonzero(labels == label).flatten()
        rows = torch.nonzero(pool.labels == label).flatten()
        if len(rows) < len(slots):
            raise ValueError(f"the real pool has {len(rows)} images of class {label}, {len(slots)} needed")
        chosen[slots] = rows[torch.randperm(len(rows), generator=generator)[: len(slots)]]
    return pool.images[chosen]


@dataclass
class Scorer:
    """Scores images against held-out real ones with one feature extractor."""

    name: str  # what the Frechet distance is computed on, e.g. "digit-classifier features"
    extract: Extractor
    heldout: ImageSet  # real images never trained on (also the variety reference)
    pool: ImageSet  # real training images, for the floor
    _reference: np.ndarray = field(init=False, repr=False)
    heldout_accuracy: float = field(init=False)

    def __post_init__(self) -> None:
        self._reference, predicted = self.extract(self.heldout.images.float() / 255.0)
        self.heldout_accuracy = float((torch.as_tensor(predicted) == self.heldout.labels).double().mean())

    def score(self, images: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
        """accuracy, Frechet proxy and relative within-class variety of images in [0, 1]."""
        features, predicted = self.extract(images)
        return {
            "accuracy": float((torch.as_tensor(predicted) == labels).double().mean()),
            "frechet": frechet_distance(features, self._reference),
            "variety": relative_variety(images, labels, self.heldout.images, self.heldout.labels),
        }

    def floor(self, labels: torch.Tensor, seed: int) -> dict[str, float]:
        """The same scores for real training images with the samples' labels; accuracy is the
        extractor's on the held-out images (on training images it would be inflated)."""
        real = balanced_subset(self.pool, labels, seed).float() / 255.0
        return {**self.score(real, labels), "accuracy": self.heldout_accuracy}
