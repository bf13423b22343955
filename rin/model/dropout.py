"""Dropout with a cheap CPU mask: three 16-bit uniforms from each 64-bit random draw.

On CPU, `F.dropout` (`bernoulli_`) draws one Mersenne-Twister number per element on one thread
(ATen hands it to MKL's vectorised generator only on Intel CPUs). On the AMD development machine
the twelve dropout masks of a `cifar10` training step at batch 32 took about a tenth of the step
(benchmarks/README.md); on Intel the gain is smaller and was not measured. Here the mask compares
16-bit uniforms against the drop rate quantised to 1/65536 (0.1 becomes 6554/65536 = 0.1000061),
taking three of them from each `random_` int64 draw (its low 48 bits; the top bit of an int64 draw
is always zero). Kept values are scaled by 1/(1 - quantised rate), so the expectation is exact.

Other devices, and graphs being compiled (Inductor generates its own fused masks), use
`F.dropout`: the semantics are the same, only the random stream differs.
"""

from __future__ import annotations

import math
import sys

import torch
import torch.nn.functional as F
from torch import nn

_LEVELS = 1 << 16
# the three fully random int16 lanes of an int64 `random_()` draw, in memory order
_LANES = slice(0, 3) if sys.byteorder == "little" else slice(1, 4)


def quantised_rate(rate: float) -> float:
    """The drop probability the CPU mask realises for `rate`: round(rate * 2^16) / 2^16."""
    return round(rate * _LEVELS) / _LEVELS


def keep_mask(shape: torch.Size | tuple[int, ...], rate: float) -> torch.Tensor:
    """Bool mask of `shape` (CPU), True with probability 1 - quantised_rate(rate), i.i.d."""
    numel = math.prod(shape)
    draws = torch.empty((numel + 2) // 3, dtype=torch.int64, device="cpu").random_()  # 63 random bits
    lanes = draws.view(torch.int16).view(-1, 4)  # (ceil(n/3), 4) in [-2^15, 2^15), lane 3 unused
    threshold = round(rate * _LEVELS) - _LEVELS // 2  # drop where uniform16 < threshold
    keep = torch.empty(len(draws), 3, dtype=torch.bool)
    # one compare per lane (long strided rows) instead of one over the (n/3, 3) view, whose rows
    # of 3 elements ran at about half the speed; the mask is the same
    for index, lane in enumerate(range(_LANES.start, _LANES.stop)):
        torch.ge(lanes[:, lane], threshold, out=keep[:, index])
    return keep.view(-1)[:numel].view(shape)


class Dropout(nn.Module):
    """Inverted dropout with `rate` (the probability of zeroing an element), as `nn.Dropout(rate)`."""

    def __init__(self, rate: float) -> None:
        super().__init__()
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"dropout rate must be in [0, 1], got {rate}")
        self.rate = rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.rate == 0.0:
            return x
        rate = quantised_rate(self.rate)
        # rates that round to 0 or 1 (|rate - 0 or 1| < 2^-17) keep their exact value through F.dropout
        if x.device.type != "cpu" or not 0.0 < rate < 1.0 or torch.compiler.is_compiling():
            return F.dropout(x, self.rate, training=True)
        keep = keep_mask(x.shape, self.rate)
        # in place: `where` keeps only the mask for its backward, not its output
        return torch.where(keep, x, 0.0).mul_(1.0 / (1.0 - rate))

    def extra_repr(self) -> str:
        return f"rate={self.rate}"
