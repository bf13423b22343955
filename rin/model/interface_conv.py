"""A depthwise convolution on the interface grid after each write (official `conv_units`, off by default).

The official code has it as `DepthwiseConvBlock` behind `conv_kernel_size` (0 in every released
config): x + Pointwise(Dropout(SiLU(GroupNorm(Depthwise_kxk(x))))), with the pointwise kernel
initialised near zero so the block starts as the identity. It is the interface's only path between
neighbouring patches that does not go through the latents; at small scale it is what lets strokes
continue across patch borders (README "Faithfulness notes").
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn


def _variance_scaling_(weight: torch.Tensor, scale: float, fan_in: int, fan_out: int) -> None:
    """Keras VarianceScaling(scale, mode="fan_avg", distribution="uniform") with explicit fans."""
    bound = math.sqrt(3.0 * scale / ((fan_in + fan_out) / 2))
    with torch.no_grad():
        weight.uniform_(-bound, bound)


class InterfaceConv(nn.Module):
    """Residual depthwise k x k conv -> GroupNorm -> SiLU -> 1x1 conv on the (grid x grid) interface."""

    def __init__(self, dim: int, kernel_size: int, grid: int) -> None:
        super().__init__()
        self.grid = grid
        self.depthwise = nn.Conv2d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        # Keras fans of a depthwise (k, k, dim, 1) kernel: fan_in = k*k*dim, fan_out = k*k
        _variance_scaling_(self.depthwise.weight, 1.0, kernel_size**2 * dim, kernel_size**2)
        self.norm = nn.GroupNorm(min(dim // 4, 32), dim, eps=1e-5)
        self.pointwise = nn.Conv2d(dim, dim, 1)
        _variance_scaling_(self.pointwise.weight, 1e-10, dim, dim)  # ~0: the block starts as the identity
        for layer in (self.depthwise, self.pointwise):
            nn.init.zeros_(layer.bias)  # type: ignore[arg-type]  # both are built with a bias

    def forward(self, interface: torch.Tensor) -> torch.Tensor:
        """interface (B, N, Dx) with N = grid * grid, row-major -> same shape."""
        x = rearrange(interface, "b (h w) d -> b d h w", h=self.grid)  # (B, Dx, h, w)
        x = self.pointwise(F.silu(self.norm(self.depthwise(x))))
        return interface + rearrange(x, "b d h w -> b (h w) d")  # (B, N, Dx)
