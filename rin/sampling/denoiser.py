"""`RINDenoiser`: turns a RIN model into the `denoise(x_t, gamma) -> x0_hat` that samplers take.

It holds the latent self-conditioning state between calls, like pix2seq's
`SelfCondHiddenContext`: each call starts from the previous call's latents (zeros at the first
step), so the network warm-starts its routing across the reverse process.

With `guidance` w > 0 each call runs the conditional and the "no label" pass as one batch of 2B
and mixes them (see `rin.sampling.guidance`); the conditional half's latents are carried.

Samplers with several calls a step (Heun, DPM-Solver++(2S)) make some calls between grid points
through `off_grid`. With `carry="every"` those calls carry latents like any other; with
`carry="grid"` they start from the carried latents but leave them as they were, so the next grid
call starts from the last grid call's latents.
"""

from __future__ import annotations

import torch
from torch import nn

from rin.configs.experiment import Carry
from rin.diffusion.parameterization import Prediction, to_x0
from rin.diffusion.scaling import network_input
from rin.sampling.guidance import classifier_free_guidance, with_null_labels


class RINDenoiser:
    """Wraps model + prediction type + input normalisation + labels + carried latents."""

    def __init__(
        self,
        model: nn.Module,
        prediction: Prediction = "eps",
        normalize_input: bool = False,
        labels: torch.Tensor | None = None,
        autocast_dtype: torch.dtype | None = None,
        guidance: float = 0.0,
        context: torch.Tensor | None = None,
        carry: Carry = "every",
    ) -> None:
        if guidance < 0:
            raise ValueError(f"guidance must be >= 0, got {guidance}")
        if guidance > 0 and labels is None:
            raise ValueError("classifier-free guidance needs class labels (got labels=None)")
        self.model = model
        self.prediction = prediction
        self.normalize_input = normalize_input
        self.labels = labels
        self.autocast_dtype = autocast_dtype
        self.guidance = guidance
        self.context = context  # video: the given frames (B, k, C, H, W) in [-b, b], closed over
        self.carry = carry
        self.latents: torch.Tensor | None = None
        self.calls = 0

    def reset(self) -> None:
        self.latents = None
        self.calls = 0

    def off_grid(self, x_t: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
        """A call between grid points; with carry="grid" it does not change the carried latents."""
        kept = self.latents
        x0 = self(x_t, gamma)
        if self.carry == "grid":
            self.latents = kept
        return x0

    @torch.no_grad()
    def __call__(self, x_t: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
        net_in = network_input(x_t, self.normalize_input)
        enabled = self.autocast_dtype is not None
        with torch.autocast(x_t.device.type, dtype=self.autocast_dtype or torch.bfloat16, enabled=enabled):
            if self.guidance > 0 and self.labels is not None:
                batch = x_t.shape[0]
                prev = None if self.latents is None else torch.cat([self.latents, self.latents])
                extra = {} if self.context is None else {"context": torch.cat([self.context, self.context])}
                both, latents = self.model(
                    torch.cat([net_in, net_in]),
                    torch.cat([gamma, gamma]),
                    with_null_labels(self.labels),
                    prev,
                    **extra,
                )  # (2B, ...): conditional half first
                output = classifier_free_guidance(both[:batch].float(), both[batch:].float(), self.guidance)
                latents = latents[:batch]
            else:
                extra = {} if self.context is None else {"context": self.context}
                output, latents = self.model(net_in, gamma, self.labels, self.latents, **extra)
        self.latents = latents
        self.calls += 1
        return to_x0(output.float(), x_t, gamma, self.prediction)
