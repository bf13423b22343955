"""Attention and feed-forward layers shared by read, compute and write.

Attention uses `torch.nn.functional.scaled_dot_product_attention`, except for bf16 on CPU in
eager mode (`attend`). Projections have biases, as Keras `MultiHeadAttention` does in the
official code (pix2seq `architectures/transformers.py`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from rin.model.dropout import Dropout


def keras_glorot_(weight: torch.Tensor, fan_in: int, fan_out: int) -> None:
    """Glorot-uniform with explicit fans (Keras computes fans of rank-3 einsum kernels differently)."""
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    with torch.no_grad():
        weight.uniform_(-bound, bound)


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, dropout: float = 0.0) -> torch.Tensor:
    """softmax(q k^T / sqrt(d)) v for q (B, h, Nq, d), k and v (B, h, Nk, d) -> (B, h, Nq, d).

    bf16 on CPU that needs a gradient (eager, no attention dropout) runs as two batched GEMMs
    around a softmax: the CPU flash kernel's bf16 backward measured about 5x slower than the
    backward of this (forward and backward of one `cifar10` attention layer, benchmarks/README.md),
    and its forward/backward were a quarter of a bf16 training step. The softmax of bf16 logits
    computes in fp32 inside the CPU kernel and rounds its output once. Without a gradient
    (self-conditioning pass 1, sampling) the flash forward is the faster one and stays; so does
    everything else (fp32, GPUs, compiled graphs).
    """
    needs_grad = torch.is_grad_enabled() and (q.requires_grad or k.requires_grad or v.requires_grad)
    fast_bf16 = q.dtype == torch.bfloat16 and q.device.type == "cpu" and dropout == 0.0 and needs_grad
    if not fast_bf16 or torch.compiler.is_compiling():
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout)
    logits = torch.matmul(q, k.transpose(-1, -2) * q.shape[-1] ** -0.5)  # (B, h, Nq, Nk)
    return torch.matmul(torch.softmax(logits, dim=-1), v)


class Attention(nn.Module):
    """Multi-head attention from `query` tokens to `context` tokens (self-attention if context is None).

    The query side is layer-normed by the caller; the context is used as given, because the
    official code does not norm the K/V side of read and write (`xattn_enc_ln=False`).
    """

    def __init__(
        self,
        query_dim: int,
        context_dim: int,
        inner_dim: int,
        heads: int,
        attn_dropout: float = 0.0,
        init: str = "keras",
    ) -> None:
        super().__init__()
        self.heads = heads
        self.attn_dropout = attn_dropout
        # Separate Q, K and V kernels, as Keras has them: LAMB's trust ratio is per kernel.
        self.to_q = nn.Linear(query_dim, inner_dim)
        self.to_k = nn.Linear(context_dim, inner_dim)
        self.to_v = nn.Linear(context_dim, inner_dim)
        self.to_out = nn.Linear(inner_dim, query_dim)
        head_dim = inner_dim // heads
        for layer, dim_in in ((self.to_q, query_dim), (self.to_k, context_dim), (self.to_v, context_dim)):
            if init == "keras":
                # Keras EinsumDense kernel (d, H, d_h): fan_in = H*d, fan_out = d_h*d.
                keras_glorot_(layer.weight, heads * dim_in, head_dim * dim_in)
            else:
                nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
        if init == "keras":
            # Output kernel (H, d_h, d): fan_in = d_h*H, fan_out = d*H.
            keras_glorot_(self.to_out.weight, head_dim * heads, query_dim * heads)
        else:
            nn.init.xavier_uniform_(self.to_out.weight)
        nn.init.zeros_(self.to_out.bias)

    def forward(self, query: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """query (B, Nq, Dq), context (B, Nk, Dk) -> (B, Nq, Dq)."""
        context = query if context is None else context
        q = rearrange(self.to_q(query), "b n (h d) -> b h n d", h=self.heads)
        k = rearrange(self.to_k(context), "b n (h d) -> b h n d", h=self.heads)
        v = rearrange(self.to_v(context), "b n (h d) -> b h n d", h=self.heads)
        dropout = self.attn_dropout if self.training else 0.0
        out = attend(q, k, v, dropout)  # (B, h, Nq, d)
        return self.to_out(rearrange(out, "b h n d -> b n (h d)"))


def softmax_invariant_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The key biases of every attention layer: parameters the output does not depend on.

    Softmax is invariant to adding q_i . b_k to every score of query i, so the true gradient of
    b_k is exactly zero (the gradient at the softmax input sums to zero over the keys). In float
    arithmetic it is rounding noise, which Adam's m / sqrt(v) turns into full-size steps; the
    training loop zeroes these gradients so the biases stay where they are (see guards.py).
    """
    return [m.to_k.bias for m in model.modules() if isinstance(m, Attention) and m.to_k.bias is not None]


class FeedForward(nn.Module):
    """Dense(ratio*d, GELU) -> dropout -> Dense(d); exact (erf) GELU as `tf.nn.gelu` defaults."""

    def __init__(self, dim: int, ratio: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, ratio * dim)
        self.fc2 = nn.Linear(ratio * dim, dim)
        self.dropout = Dropout(dropout)  # cheap CPU masks (rin.model.dropout)
        for layer in (self.fc1, self.fc2):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.dropout(F.gelu(self.fc1(x))))


def layer_norm(dim: int) -> nn.LayerNorm:
    """LayerNorm with the official epsilon (1e-6), scale and bias."""
    return nn.LayerNorm(dim, eps=1e-6)


class DropPath(nn.Module):
    """Stochastic depth per example: drop the whole residual branch with probability `rate`."""

    def __init__(self, rate: float) -> None:
        super().__init__()
        self.rate = rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.rate == 0.0:
            return x
        keep = 1.0 - self.rate
        mask = torch.empty(x.shape[0], *([1] * (x.dim() - 1)), device=x.device, dtype=x.dtype)
        return x * mask.bernoulli_(keep) / keep
