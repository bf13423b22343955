"""Optimisers and the learning-rate schedule of the reference (pix2seq `model_utils`).

LAMB (You et al. 2020) as `tfa.optimizers.LAMB`: Adam moments with bias correction, decoupled
weight decay added to the update, then a per-tensor trust ratio ||w|| / ||update||. Biases and
LayerNorm parameters (`exclude_from_weight_decay='bias,beta,gamma'`) get neither weight decay nor
layer adaptation; position tables and latent inits are decayed. No gradient clipping for LAMB.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence

import torch
from torch import nn

from rin.configs.experiment import TrainConfig
from rin.configs.schedule_names import parse_lr_schedule


class Lamb(torch.optim.Optimizer):
    """Layer-wise adaptive moments (LAMB). Group option `adapt` turns the trust ratio on or off."""

    # parameter elements updated per batch of foreach ops (bounds the step's temporaries)
    chunk_elements = 1 << 24

    def __init__(
        self,
        params: Iterable[torch.nn.Parameter] | Iterable[dict],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        adapt: bool = True,
    ) -> None:
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay, "adapt": adapt}
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            for p in params:
                state = self.state[p]
                if not state:
                    state["step"] = torch.zeros((), dtype=torch.float32)
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["step"] += 1
            step = float(self.state[params[0]]["step"])  # all tensors of a group step together
            # a few tensors at a time: the update needs two temporaries the size of its tensors,
            # which for all parameters at once would be 2x the model (3.2 GB for imagenet128)
            for chunk in _chunks(params, self.chunk_elements):
                self._update(chunk, group, step)
        return loss

    def _update(self, params: list[torch.Tensor], group: dict, step: float) -> None:
        beta1, beta2 = group["betas"]
        grads = [p.grad for p in params if p.grad is not None]  # all of them: step() filtered
        exp_avgs = [self.state[p]["exp_avg"] for p in params]
        exp_avg_sqs = [self.state[p]["exp_avg_sq"] for p in params]
        torch._foreach_lerp_(exp_avgs, grads, 1.0 - beta1)
        torch._foreach_mul_(exp_avg_sqs, beta2)
        torch._foreach_addcmul_(exp_avg_sqs, grads, grads, value=1.0 - beta2)
        # update = m_hat / (sqrt(v_hat) + eps) + wd * w
        denom = torch._foreach_sqrt(exp_avg_sqs)
        torch._foreach_div_(denom, math.sqrt(1.0 - beta2**step))
        torch._foreach_add_(denom, group["eps"])
        updates = torch._foreach_div(exp_avgs, denom)
        del denom
        torch._foreach_div_(updates, 1.0 - beta1**step)
        if group["weight_decay"] > 0:
            torch._foreach_add_(updates, params, alpha=group["weight_decay"])
        if group["adapt"]:
            w_norms = torch._foreach_norm(params)
            u_norms = torch._foreach_norm(updates)
            torch._foreach_mul_(updates, trust_ratios(w_norms, u_norms))
        torch._foreach_add_(params, updates, alpha=-group["lr"])


def _chunks(params: list[torch.Tensor], budget: int) -> Iterator[list[torch.Tensor]]:
    """Consecutive runs of `params` of about `budget` elements (a larger tensor goes alone)."""
    chunk: list[torch.Tensor] = []
    size = 0
    for p in params:
        if chunk and size + p.numel() > budget:
            yield chunk
            chunk, size = [], 0
        chunk.append(p)
        size += p.numel()
    if chunk:
        yield chunk


def trust_ratios(w_norms: Sequence[torch.Tensor], u_norms: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """||w|| / ||update|| per tensor, 1 where either norm is 0 (tfa LAMB).

    Stacked into one `where` over all tensors rather than four small ops per tensor: the same
    numbers, with O(1) instead of O(tensors) kernel launches (benchmarks/README.md).
    """
    w, u = torch.stack(list(w_norms)), torch.stack(list(u_norms))  # (T,)
    return list(torch.where((w > 0) & (u > 0), w / u, torch.ones_like(w)).unbind())


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Decay (and adapt) matrices and tables; exempt biases and LayerNorm scales (all 1-D tensors)."""
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    exempt = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    return [
        {"params": decay, "weight_decay": weight_decay, "adapt": True},
        {"params": exempt, "weight_decay": 0.0, "adapt": False},
    ]


def build_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """LAMB (the reference) or AdamW, with the same decay exclusions."""
    groups = parameter_groups(model, config.weight_decay)
    betas = (config.beta1, config.beta2)
    if config.optimizer == "lamb":
        return Lamb(groups, lr=config.lr, betas=betas, eps=config.eps)
    for group in groups:
        group.pop("adapt")
    return torch.optim.AdamW(groups, lr=config.lr, betas=betas, eps=config.eps, foreach=True)


def learning_rate(step: int, config: TrainConfig) -> float:
    """LR for optimizer step `step` (0-based): linear warm-up from 0, then `cosine@r` or constant.

    `cosine@r` is a cosine decay over (total - warmup) / r steps, of which only the first
    fraction r is traversed, so the final LR is lr * (1 + cos(pi r)) / 2 (official `WarmUpAndDecay`).
    """
    if config.warmup_steps > 0 and step < config.warmup_steps:
        # official `WarmUpAndDecay`: step / warmup * lr, so the very first update has LR 0
        return config.lr * step / config.warmup_steps
    fraction = parse_lr_schedule(config.lr_schedule)
    if fraction is None:
        return config.lr
    decay_steps = max(config.steps - config.warmup_steps, 1) / fraction
    progress = min(step - config.warmup_steps, decay_steps)
    return config.lr * 0.5 * (1.0 + math.cos(math.pi * progress / decay_steps))


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
