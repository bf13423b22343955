"""One RIN block: read -> compute -> write (paper Sec. 2.2; official `TapeDenoiser.compute`).

Every sub-layer is a pre-LN residual. The interface gets no self-attention and no stand-alone
MLP: its only processing is the write cross-attention and the MLP after it, plus, only with
`model.conv_kernel_size > 0` (an official option, off in every released config), a depthwise
convolution over the patch grid after the write.
"""

from __future__ import annotations

import torch
from torch import nn

from rin.configs.experiment import ModelConfig
from rin.model.attention import Attention, DropPath, FeedForward, layer_norm
from rin.model.interface_conv import InterfaceConv


class ComputeLayer(nn.Module):
    """Pre-LN Transformer layer on the latents; the only place with dropout and drop-path."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        dz = config.latent_dim
        self.norm_attn = layer_norm(dz)
        self.attn = Attention(dz, dz, dz, config.latent_heads, init=config.attention_init)
        self.norm_mlp = layer_norm(dz)
        self.mlp = FeedForward(dz, config.latent_mlp_ratio, dropout=config.dropout)
        self.drop_path = DropPath(config.drop_path)

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        latents = latents + self.drop_path(self.attn(self.norm_attn(latents)))
        return latents + self.drop_path(self.mlp(self.norm_mlp(latents)))


class RINBlock(nn.Module):
    """Latents read from the interface, compute among themselves, and write back."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        dz, dx, heads = config.latent_dim, config.interface_dim, config.rw_heads
        # read: latents (queries, normed) attend to the un-normed interface
        self.read_norm = layer_norm(dz)
        self.read_attn = Attention(dz, dx, config.cross_dim, heads, init=config.attention_init)
        self.read_mlp_norm = layer_norm(dz)
        self.read_mlp = FeedForward(dz, config.latent_mlp_ratio)
        # compute: D self-attention layers on the latents only
        self.compute_layers = nn.ModuleList(ComputeLayer(config) for _ in range(config.block_depth))
        # write: interface (queries, normed) attends to the un-normed latents
        self.write_norm = layer_norm(dx)
        self.write_attn = Attention(dx, dz, config.cross_dim, heads, init=config.attention_init)
        self.write_mlp: FeedForward | None = None
        if config.interface_mlp_ratio > 0:
            self.write_mlp_norm = layer_norm(dx)
            self.write_mlp = FeedForward(dx, config.interface_mlp_ratio)
        self.conv: InterfaceConv | None = None
        if config.conv_kernel_size > 0:
            self.conv = InterfaceConv(dx, config.conv_kernel_size, config.image_size // config.patch_size)

    def read(self, latents: torch.Tensor, interface: torch.Tensor) -> torch.Tensor:
        latents = latents + self.read_attn(self.read_norm(latents), interface)
        return latents + self.read_mlp(self.read_mlp_norm(latents))

    def compute(self, latents: torch.Tensor) -> torch.Tensor:
        for layer in self.compute_layers:
            latents = layer(latents)
        return latents

    def write(self, interface: torch.Tensor, latents: torch.Tensor) -> torch.Tensor:
        interface = interface + self.write_attn(self.write_norm(interface), latents)
        if self.write_mlp is not None:
            interface = interface + self.write_mlp(self.write_mlp_norm(interface))
        if self.conv is not None:
            interface = self.conv(interface)
        return interface

    def forward(self, interface: torch.Tensor, latents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """interface (B, N, Dx), latents (B, L, Dz) -> both updated, same shapes."""
        latents = self.read(latents, interface)
        latents = self.compute(latents)
        interface = self.write(interface, latents)
        return interface, latents
