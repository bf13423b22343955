"""Turning images into interface tokens and back, and conditioning into latent tokens.

Official code: `ImageTapeDenoiser.stem/_x_to_tape/readout_tape` (interface),
`transunet.ScalarEmbedding` (time token), `TapeDenoiser.initialize_cond` (class token).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from rin.model.attention import keras_glorot_, layer_norm


def trunc_normal_table(*shape: int) -> nn.Parameter:
    """A learned table initialised with truncated normal, std 0.02 (official `add_vis_pos_emb`)."""
    table = nn.Parameter(torch.empty(*shape))
    nn.init.trunc_normal_(table, std=0.02, a=-0.04, b=0.04)
    return table


def glorot_linear(dim_in: int, dim_out: int) -> nn.Linear:
    """Dense layer with the Keras defaults: Glorot-uniform kernel, zero bias."""
    layer = nn.Linear(dim_in, dim_out)
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def sin_cos_2d(grid: int, dim: int) -> torch.Tensor:
    """Fixed 2-D sin-cos positions (grid*grid, dim): half the channels encode rows, half columns."""
    rows, cols = torch.meshgrid(torch.arange(grid), torch.arange(grid), indexing="ij")
    per_axis = [sinusoidal_features(axis.flatten().float(), dim // 2) for axis in (rows, cols)]
    return torch.cat(per_axis, dim=-1)  # (N, Dx)


class PatchEmbed(nn.Module):
    """X0 = LN(Linear(patches)) + P_x: a linear patch embedding, LayerNorm, then learned positions."""

    def __init__(
        self, image_size: int, channels: int, patch_size: int, dim: int, pos_encoding: str = "learned"
    ) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.grid = image_size // patch_size
        self.proj = glorot_linear(patch_size * patch_size * channels, dim)
        # Keras Conv2D fans for a (p, p, C, d) kernel: fan_in = p*p*C, fan_out = p*p*d
        keras_glorot_(self.proj.weight, patch_size * patch_size * channels, patch_size * patch_size * dim)
        self.norm = layer_norm(dim)
        self.pos = trunc_normal_table(self.grid * self.grid, dim)
        fixed = sin_cos_2d(self.grid, dim) if pos_encoding == "sin_cos_plus_learned" else torch.zeros(1, dim)
        self.register_buffer("fixed_pos", fixed, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, C, H, W) -> interface (B, N, Dx)."""
        p = self.patch_size
        patches = rearrange(x, "b c (h p1) (w p2) -> b (h w) (p1 p2 c)", p1=p, p2=p)  # (B, N, p*p*C)
        return self.norm(self.proj(patches)) + self.pos + self.fixed_pos


class Readout(nn.Module):
    """LN -> Linear(p*p*C) -> un-patchify (official `readout_tape`)."""

    def __init__(self, image_size: int, channels: int, patch_size: int, dim: int) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.grid = image_size // patch_size
        self.norm = layer_norm(dim)
        self.proj = glorot_linear(dim, patch_size * patch_size * channels)

    def forward(self, interface: torch.Tensor) -> torch.Tensor:
        """interface (B, N, Dx) -> image (B, C, H, W)."""
        p = self.patch_size
        patches = self.proj(self.norm(interface))  # (B, N, p*p*C)
        return rearrange(patches, "b (h w) (p1 p2 c) -> b c (h p1) (w p2)", h=self.grid, p1=p, p2=p)


def sinusoidal_features(s: torch.Tensor, dim: int) -> torch.Tensor:
    """s (B,) -> (B, dim): [sin(s w_k)]_k then [cos(s w_k)]_k with w_k = 10000^(-2k/dim), k < dim/2."""
    half = dim // 2
    k = torch.arange(half, device=s.device, dtype=torch.float32)
    freqs = torch.exp(-math.log(10000.0) * 2.0 * k / dim)
    angles = s.float()[:, None] * freqs[None, :]  # (B, dim/2)
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class TimeToken(nn.Module):
    """gamma -> one latent token: sinusoid(1000*gamma), standardised, Dense -> SiLU -> Dense.

    The network is conditioned on the noise level gamma, not on t, which is what lets the
    training and sampling schedules differ (official `ScalarEmbedding`, `time_scaling=1000`).
    """

    def __init__(self, latent_dim: int, time_scale: float) -> None:
        super().__init__()
        self.time_scale = time_scale
        self.feature_dim = latent_dim // 4
        self.fc1 = glorot_linear(self.feature_dim, latent_dim)
        self.fc2 = glorot_linear(latent_dim, latent_dim)

    def forward(self, gamma: torch.Tensor) -> torch.Tensor:
        """gamma (B,) -> (B, 1, Dz)."""
        features = sinusoidal_features(self.time_scale * gamma, self.feature_dim)  # (B, Dz/4)
        mean = features.mean(dim=-1, keepdim=True)
        std = features.std(dim=-1, keepdim=True, unbiased=False)
        features = (features - mean) / (std + 1e-6)
        # no activation after the last Dense (`last_swish=False`)
        token = self.fc2(F.silu(self.fc1(features.to(self.fc1.weight.dtype))))
        return rearrange(token, "b d -> b 1 d")


NULL_LABEL = -1  # "no label": the all-zero class code (label dropout, unconditional guidance pass)


def check_labels(labels: torch.Tensor, num_classes: int) -> None:
    """Raise a one-line ValueError unless every label is in [0, num_classes) or NULL_LABEL."""
    if labels.numel() == 0:
        return
    low, high = int(labels.min()), int(labels.max())
    if low < NULL_LABEL or high >= num_classes:
        raise ValueError(
            f"labels must be in [0, {num_classes}) or {NULL_LABEL} (no label), got values in [{low}, {high}]"
        )


class ClassToken(nn.Module):
    """one-hot(label) -> Dense(d_z) -> one latent token (official `cond_proj`)."""

    def __init__(self, num_classes: int, latent_dim: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.proj = glorot_linear(num_classes, latent_dim)

    def forward(self, labels: torch.Tensor | None, batch: int) -> torch.Tensor:
        """labels (B,) int, or None -> (B, 1, Dz).

        A label of NULL_LABEL (-1), or labels=None for the whole batch, gives the all-zero code:
        the "no label" input of classifier-free guidance (official `labels * labels_w`, w = 0).
        """
        if labels is None:
            onehot = torch.zeros(batch, self.num_classes, device=self.proj.weight.device)
        else:
            labels = labels.long()
            # eager only: a host sync, a graph break under torch.compile, impossible on meta tensors
            if not torch.compiler.is_compiling() and labels.device.type != "meta":
                check_labels(labels, self.num_classes)
            keep = (labels != NULL_LABEL).unsqueeze(-1)  # (B, 1)
            onehot = F.one_hot(labels.clamp_min(0), self.num_classes) * keep  # (B, K)
            onehot = onehot.to(self.proj.weight.dtype)
        return rearrange(self.proj(onehot), "b d -> b 1 d")
