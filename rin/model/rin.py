"""RIN: Recurrent Interface Network (Jabri, Fleet & Chen, ICML 2023), official name "TapeDenoiser".

forward(x_t, gamma, labels, prev_latents, context):
    X = tokenize(x_t) = LN(patchify(x_t)) + P_x                  interface (video: rin.model.video)
    Z = [Z_init; time token(gamma); class token(label)]          latents
    Z = Z + LN0(Z' + FFN(LN(Z')))                                latent self-conditioning
    for each untied block: read, compute, write
    return readout(X), Z
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from einops import repeat
from torch import nn
from torch.utils.checkpoint import checkpoint

from rin.configs.experiment import ExperimentConfig, ModelConfig
from rin.model.attention import FeedForward, layer_norm
from rin.model.block import RINBlock
from rin.model.embeddings import ClassToken, PatchEmbed, Readout, TimeToken, trunc_normal_table
from rin.model.video import VideoInterface


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
    """The RIN denoiser; knows nothing about noise schedules or targets.

    `RIN(config)` builds an `ImageRIN` or a `VideoRIN` (as pix2seq's image and video denoisers
    subclass one base): only the interface differs, through `tokenize`, `read_out` and
    `check_inputs`; latents, blocks and self-conditioning are shared. With
    `activation_checkpointing` the blocks are recomputed in the backward instead of keeping
    their activations (train.activation_checkpointing).
    """

    def __new__(cls, config: ModelConfig | None = None, *args: Any, **kwargs: Any) -> RIN:
        if cls is RIN and config is not None:  # copies and FSDP call __new__ with no config
            cls = VideoRIN if config.is_video else ImageRIN
        return super().__new__(cls)

    def __init__(self, config: ModelConfig, activation_checkpointing: bool = False) -> None:
        super().__init__()
        self.config = config
        c = config
        self.build_interface(c)  # first: the order of the seeded initialisations is part of the model
        num_learned = c.num_latents - c.num_conditioning_tokens
        self.latents = trunc_normal_table(num_learned, c.latent_dim)  # Z_init, shared over the batch
        self.time_token = TimeToken(c.latent_dim, c.time_scale)
        self.class_token = ClassToken(c.num_classes, c.latent_dim) if c.num_classes > 0 else None
        self.self_cond = LatentSelfConditioning(c)
        self.blocks = nn.ModuleList(RINBlock(c) for _ in range(c.num_blocks))  # untied
        self.activation_checkpointing = activation_checkpointing

    def build_interface(self, config: ModelConfig) -> None:
        """Create the stem and readout modules (their names are the checkpoint's tensor names)."""
        raise NotImplementedError

    def check_inputs(self, x_t: torch.Tensor, context: torch.Tensor | None) -> None:
        """One-line ValueErrors for x_t / context shapes that would otherwise fail deep inside."""
        raise NotImplementedError

    def tokenize(self, x_t: torch.Tensor, context: torch.Tensor | None) -> torch.Tensor:
        """x_t (and the given frames) -> interface tokens (B, N, Dx), positions included."""
        raise NotImplementedError

    def read_out(self, interface: torch.Tensor) -> torch.Tensor:
        """Interface tokens (B, N, Dx) -> the prediction, shaped like x_t."""
        raise NotImplementedError

    def save_pretrained(self, directory: str | Path, experiment: ExperimentConfig | None = None) -> Path:
        """Write model.safetensors, config.json and a model card; see `rin.model.pretrained`."""
        from rin.model.pretrained import save_pretrained

        return save_pretrained(self, directory, experiment, weights="")

    @classmethod
    def from_pretrained(cls, source: str | Path) -> RIN:
        """Load a pretrained folder or a hub id ("owner/name", needs `rin[hub]`), in eval mode."""
        from rin.model.pretrained import from_pretrained

        return from_pretrained(source)

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
        context: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One denoising pass.

        Args:
            x_t: noisy images (B, C, H, W), already input-scaled/normalised by the caller;
                for video the noisy frames (B, F-k, C, H, W).
            gamma: noise level, signal variance alpha-bar in [0, 1], shape (B,).
            labels: class indices (B,) int64, or None (all-zero class code).
            prev_latents: latents (B, L, Dz) of the previous pass, or None for zeros.
            context: video only: the k given (clean) frames (B, k, C, H, W); None when k = 0.

        Returns:
            prediction shaped like x_t and the final latents (B, L, Dz) for the next pass.
        """
        self.check_inputs(x_t, context)
        batch = x_t.shape[0]
        if gamma.shape != (batch,):
            raise ValueError(f"gamma must have shape ({batch},), got {tuple(gamma.shape)}")
        if prev_latents is None:
            prev_latents = x_t.new_zeros(self.latent_shape(batch))
        elif tuple(prev_latents.shape) != self.latent_shape(batch):
            raise ValueError(
                f"prev_latents must be {self.latent_shape(batch)}, got {tuple(prev_latents.shape)}"
            )
        interface = self.tokenize(x_t, context)  # (B, N, Dx)
        latents = self.initial_latents(x_t, gamma, labels)  # (B, L, Dz)
        latents = latents + self.self_cond(prev_latents)
        recompute = self.activation_checkpointing and torch.is_grad_enabled()
        for block in self.blocks:
            if recompute:
                # the RNG state is restored for the recomputation: same dropout and drop-path masks
                interface, latents = checkpoint(block, interface, latents, use_reentrant=False)
            else:
                interface, latents = block(interface, latents)
        return self.read_out(interface), latents  # like x_t, (B, L, Dz)


class ImageRIN(RIN):
    """Images (B, C, H, W) as p x p patches (official `TapeDenoiser`)."""

    def build_interface(self, config: ModelConfig) -> None:
        c = config
        self.patch_embed = PatchEmbed(c.image_size, c.channels, c.patch_size, c.interface_dim, c.pos_encoding)
        self.readout = Readout(c.image_size, c.channels, c.patch_size, c.interface_dim)

    def check_inputs(self, x_t: torch.Tensor, context: torch.Tensor | None) -> None:
        c = self.config
        frame = (c.channels, c.image_size, c.image_size)
        if x_t.dim() != 4 or tuple(x_t.shape[1:]) != frame:
            raise ValueError(
                f"RIN expects x_t of shape (B, {', '.join(map(str, frame))}), got {tuple(x_t.shape)}"
            )
        if context is not None:
            raise ValueError("context frames were given to an image model (model.frames = 0)")

    def tokenize(self, x_t: torch.Tensor, context: torch.Tensor | None) -> torch.Tensor:
        return self.patch_embed(x_t)  # (B, N, Dx)

    def read_out(self, interface: torch.Tensor) -> torch.Tensor:
        return self.readout(interface)  # (B, C, H, W)


class VideoRIN(RIN):
    """Clips whose first k frames are given, as (t, p, p) tubelets (official `VideoTapeDenoiser`)."""

    def build_interface(self, config: ModelConfig) -> None:
        self.video = VideoInterface(config)

    def check_inputs(self, x_t: torch.Tensor, context: torch.Tensor | None) -> None:
        c = self.config
        expected = (c.generated_frames, c.channels, c.image_size, c.image_size)
        if x_t.dim() != 5 or tuple(x_t.shape[1:]) != expected:
            raise ValueError(
                f"video RIN expects x_t (the noisy frames) of shape (B, {', '.join(map(str, expected))}), "
                f"got {tuple(x_t.shape)}"
            )
        want = (x_t.shape[0], c.context_frames, *expected[1:])
        if c.context_frames == 0 and context is not None:
            raise ValueError("context frames were given to a video model with model.context_frames = 0")
        if c.context_frames > 0 and (context is None or tuple(context.shape) != want):
            got = None if context is None else tuple(context.shape)
            raise ValueError(f"video RIN expects context frames of shape {want}, got {got}")

    def tokenize(self, x_t: torch.Tensor, context: torch.Tensor | None) -> torch.Tensor:
        return self.video.tokenize(x_t, context)  # (B, N, Dx)

    def read_out(self, interface: torch.Tensor) -> torch.Tensor:
        return self.video.read_out(interface)  # (B, F-k, C, H, W)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
