"""`RINDenoiser`: turns a RIN model into the `denoise(x_t, gamma) -> x0_hat` that samplers take.

It holds the latent self-conditioning state between calls, like pix2seq's
`SelfCondHiddenContext`: each call starts from the previous call's latents (zeros at the first
step), so the network warm-starts its routing across the reverse process.
"""

from __future__ import annotations

import torch
from torch import nn

from rin.diffusion.parameterization import Prediction, to_x0
from rin.diffusion.scaling import network_input


class RINDenoiser:
    """Wraps model + prediction type + input normalisation + labels + carried latents."""

    def __init__(
        self,
        model: nn.Module,
        prediction: Prediction = "eps",
        normalize_input: bool = False,
        labels: torch.Tensor | None = None,
        autocast_dtype: torch.dtype | None = None,
    ) -> None:
        self.model = model
        self.prediction = prediction
        self.normalize_input = normalize_input
        self.labels = labels
        self.autocast_dtype = autocast_dtype
        self.latents: torch.Tensor | None = None
        self.calls = 0

    def reset(self) -> None:
        self.latents = None
        self.calls = 0

    @torch.no_grad()
    def __call__(self, x_t: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
        net_in = network_input(x_t, self.normalize_input)
        enabled = self.autocast_dtype is not None
        with torch.autocast(x_t.device.type, dtype=self.autocast_dtype or torch.bfloat16, enabled=enabled):
            output, latents = self.model(net_in, gamma, self.labels, self.latents)
        self.latents = latents
        self.calls += 1
        return to_x0(output.float(), x_t, gamma, self.prediction)
