"""Input scaling (Chen 2023, "On the importance of noise scheduling for diffusion models").

Data lives in [-b, b]. Optionally the network input x_t is divided by its per-example
standard deviation, at training and at sampling time alike (official `normalize_noisy_input`);
the diffusion maths (targets, x0, eps) keep using the un-normalised x_t.
"""

from __future__ import annotations

import torch


def normalize_per_example(x_t: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """x_t / std(x_t) with the std taken over all non-batch dimensions."""
    std = x_t.flatten(1).std(dim=1, unbiased=False)  # (B,)
    return x_t / (std.reshape(-1, *([1] * (x_t.dim() - 1))) + eps)


def network_input(x_t: torch.Tensor, normalize: bool) -> torch.Tensor:
    """What the network sees for a noisy sample x_t."""
    return normalize_per_example(x_t) if normalize else x_t
