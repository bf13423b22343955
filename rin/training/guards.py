"""Numerical guards: find the first non-finite term of a step so the loop can skip its update.

A non-finite loss or gradient would poison the weights, the optimizer moments and the EMA at
once. The loop checks the learning rate, the loss and the global gradient norm (one reduction)
every step, skips the update when one is not finite and names the culprit; after
`train.max_nonfinite_steps` skips in a row it stops, and the last checkpoint still holds finite
weights. After the update it checks the weights themselves and stops at once if they are not
finite (the update cannot be undone; the last checkpoint is still good).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


def gradient_norm(model: nn.Module, clip: float) -> torch.Tensor:
    """Global L2 norm of the gradients, clipping them to `clip` first when clip > 0."""
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    if not grads:
        return torch.zeros(())
    if clip > 0:
        return torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    return torch.nn.utils.get_total_norm(grads)


def nonfinite_term(loss: float, grad_norm: float, model: nn.Module, lr: float = 0.0) -> str | None:
    """None if the step is finite, else which term is not: the learning rate, the loss or
    "gradient of <parameter>"."""
    if not math.isfinite(lr):
        return f"learning rate ({lr})"
    if not math.isfinite(loss):
        return f"loss ({loss})"
    if math.isfinite(grad_norm):
        return None
    for name, param in model.named_parameters():
        if param.grad is not None and not bool(torch.isfinite(param.grad).all()):
            return f"gradient of {name}"
    return f"gradient norm ({grad_norm})"


def nonfinite_weight(model: nn.Module) -> str | None:
    """None if every weight is finite after an update, else the first parameter that is not.

    Finite inputs can still give a non-finite update (an overflowing step size), and the update
    is applied in place, so the loop checks its result (one norm over all weights) and stops
    before the poisoned weights reach the EMA or a checkpoint.
    """
    params = [p.detach() for p in model.parameters()]
    if not params or math.isfinite(float(torch.nn.utils.get_total_norm(params))):
        return None
    for name, param in model.named_parameters():
        if not bool(torch.isfinite(param.detach()).all()):
            return name
    return "a weight"


def zero_gradients(params: Sequence[torch.Tensor]) -> None:
    """Set the gradients of `params` to exactly zero (parameters whose true gradient is zero)."""
    grads = [p.grad for p in params if p.grad is not None]
    if grads:
        torch._foreach_zero_(grads)
