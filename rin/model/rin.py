"""RIN: Recurrent Interface Network (Jabri, Fleet & Chen, ICML 2023), official name "TapeDenoiser".

forward(x_t, gamma, labels, prev_latents):
    X = LN(patchify(x_t)) + P_x                                  interface
    Z = [Z_init; time token(gamma); class token(label)]          latents
    Z = Z + LN0(Z' + FFN(LN(Z')))                                latent self-conditioning
    for each untied block: read, compute, write
    return readout(X), Z
"""

from __future__ import annotations

import torch
from einops import repeat
from torch import nn

from rin.configs.experiment import ModelConfig
from rin.model.attention import FeedForward, layer_norm
from rin.model.block import RINBlock
from rin.model.embeddings import ClassToken, PatchEmbed, Readout, TimeToken, trunc_normal_table


class LatentSelfConditioning(nn.Module):
    """Z_init + LN0(Z' + FFN(LN(Z'))), with LN0's scale and bias initialised to zero (paper Eq. 2).

    Always executed, with zeros when there is no previous state: the graph is the same on every
    call, so DDP needs no `find_unused_parameters`. At init the term is exactly zero.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.norm = layer_norm(config.latent_dim)
        self.mlp = FeedForward(config.latent_dim, config.latent_mlp_ratio)
        self.out_norm = layer_norm(config.latent_dim)
        nn.init.zeros_(self.out_norm.weight)
        nn.init.zeros_(self.out_norm.bias)

    def forward(self, prev_latents: torch.Tensor) -> torch.Tensor:
        """prev_latents (B, L, Dz) -> the additive term (B, L, Dz)."""
        return self.out_norm(prev_latents + self.mlp(self.norm(prev_latents)))


class RIN(nn.Module):
    """The RIN denoiser; knows nothing about noise schedules or targets."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.patch_embed = PatchEmbed(c.image_size, c.channels, c.patch_size, c.interface_dim, c.pos_encoding)
        num_learned = c.num_latents - c.num_conditioning_tokens
        self.latents = trunc_normal_table(num_learned, c.latent_dim)  # Z_init, shared over the batch
        self.time_token = TimeToken(c.latent_dim, c.time_scale)
        self.class_token = ClassToken(c.num_classes, c.latent_dim) if c.num_classes > 0 else None
        self.self_cond = LatentSelfConditioning(c)
        self.blocks = nn.ModuleList(RINBlock(c) for _ in range(c.num_blocks))  # untied
        self.readout = Readout(c.image_size, c.channels, c.patch_size, c.interface_dim)

    def latent_shape(self, batch: int) -> tuple[int, int, int]:
        """Shape of the latents this model returns and accepts as `prev_latents`."""
        return (batch, self.config.num_latents, self.config.latent_dim)

    def initial_latents(
        self, x_t: torch.Tensor, gamma: torch.Tensor, labels: torch.Tensor | None
    ) -> torch.Tensor:
        """[Z_init; time token; class token] -> (B, L, Dz)."""
        batch = x_t.shape[0]
        parts = [repeat(self.latents, "l d -> b l d", b=batch), self.time_token(gamma)]
        if self.class_token is not None:
            parts.append(self.class_token(labels, batch))
        return torch.cat(parts, dim=1).to(x_t.dtype)  # (B, L, Dz)

    def forward(
        self,
        x_t: torch.Tensor,
        gamma: torch.Tensor,
        labels: torch.Tensor | None = None,
        prev_latents: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One denoising pass.

        Args:
            x_t: noisy images (B, C, H, W), already input-scaled/normalised by the caller.
            gamma: noise level, signal variance alpha-bar in [0, 1], shape (B,).
            labels: class indices (B,) int64, or None (all-zero class code).
            prev_latents: latents (B, L, Dz) of the previous pass, or None for zeros.

        Returns:
            prediction (B, C, H, W) and the final latents (B, L, Dz) for the next pass.
        """
        c = self.config
        if x_t.dim() != 4 or tuple(x_t.shape[1:]) != (c.channels, c.image_size, c.image_size):
            raise ValueError(
                f"RIN expects x_t of shape (B, {c.channels}, {c.image_size}, {c.image_size}), "
                f"got {tuple(x_t.shape)}"
            )
        batch = x_t.shape[0]
        if gamma.shape != (batch,):
            raise ValueError(f"gamma must have shape ({batch},), got {tuple(gamma.shape)}")
        if prev_latents is None:
            prev_latents = x_t.new_zeros(self.latent_shape(batch))
        elif tuple(prev_latents.shape) != self.latent_shape(batch):
            raise ValueError(
                f"prev_latents must be {self.latent_shape(batch)}, got {tuple(prev_latents.shape)}"
            )
        interface = self.patch_embed(x_t)  # (B, N, Dx)
        latents = self.initial_latents(x_t, gamma, labels)  # (B, L, Dz)
        latents = latents + self.self_cond(prev_latents)
        for block in self.blocks:
            interface, latents = block(interface, latents)
        return self.readout(interface), latents  # (B, C, H, W), (B, L, Dz)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
