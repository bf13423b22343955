"""Exponential moving average of the weights; samples and evaluation use the EMA copy.

Deviation, noted: the official code builds its EMA copy from a separate random init; here it
starts as a copy of the online weights, which only matters in the first ~1/(1-decay) steps.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """ema <- decay * ema + (1 - decay) * online, every step (official code: 0.9999, from step 0)."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.model: nn.Module = copy.deepcopy(model).eval()
        self.model.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        ema_params: list[torch.Tensor] = list(self.model.parameters())
        online = [p.detach() for p in model.parameters()]
        torch._foreach_lerp_(ema_params, online, 1.0 - self.decay)
        for ema_buffer, buffer in zip(self.model.buffers(), model.buffers(), strict=True):
            ema_buffer.copy_(buffer)
