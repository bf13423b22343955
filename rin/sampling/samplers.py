"""`sample`: run a registered sampler over a time grid, with the official x0 clipping.

`denoise(x_t, gamma) -> x0_hat` with x_t (B, ...) and gamma (B,). As in the official
`Scheduler.generate`, x0_hat is clipped to [-b, b] before any sampler uses it (for DDPM and DDIM
eps is then re-derived from it, "truncate noise"), and the result is the x0_hat of the last call.
"""

from __future__ import annotations

import torch
from tqdm.auto import tqdm

from rin.diffusion.schedules import Schedule
from rin.sampling.first_order import ddim_step, ddpm_step
from rin.sampling.grid import make_grid
from rin.sampling.levels import DenoiseFn
from rin.sampling.noise import Noise
from rin.sampling.registry import get_sampler

__all__ = ["DenoiseFn", "ddim_step", "ddpm_step", "sample"]


class _Clipped:
    """denoise with x0_hat clipped to [-clip, clip] and a progress bar ticked per call; keeps the
    wrapped denoiser's `off_grid` (how it carries state through off-grid calls)."""

    def __init__(self, denoise: DenoiseFn, clip: float | None, bar: tqdm | None) -> None:
        self.denoise, self.clip, self.bar = denoise, clip, bar

    def _finish(self, x0: torch.Tensor) -> torch.Tensor:
        if self.bar is not None:
            self.bar.update(1)
        return x0 if self.clip is None else x0.clamp(-self.clip, self.clip)

    def __call__(self, x_t: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
        return self._finish(self.denoise(x_t, gamma))

    def off_grid(self, x_t: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
        off_grid = getattr(self.denoise, "off_grid", self.denoise)
        return self._finish(off_grid(x_t, gamma))


def sample(
    denoise: DenoiseFn,
    x_T: torch.Tensor,
    schedule: Schedule,
    steps: int,
    sampler: str = "ddpm",
    generator: Noise = None,
    clip: float | None = 1.0,
    time_difference: float = 0.0,
    progress: bool = False,
    grid: str = "uniform",
) -> torch.Tensor:
    """Run the reverse process from x_T (B, ...) and return the last call's x0 prediction.

    Args:
        denoise: x_t, gamma (B,) -> x0_hat; may carry state between calls (self-conditioning).
        schedule: t -> gamma, the *inference* schedule (cosine in the reference).
        sampler: a name in `rin.sampling.SAMPLERS`; `steps` counts steps, not network calls.
        clip: clip x0_hat to [-clip, clip] (the data range b); None disables clipping.
        grid: `uniform` in t (official), `logsnr` or `karras` (see `rin.sampling.grid`).
    """
    info = get_sampler(sampler)
    time_grid = make_grid(grid, schedule, steps, time_difference)
    total = info.calls(steps)
    with tqdm(total=total, desc=f"{sampler} sampling", disable=not progress, leave=False) as bar:
        return info.fn(_Clipped(denoise, clip, bar if progress else None), x_T, time_grid, generator)
