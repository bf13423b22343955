"""Video clips as interface tokens and back: 3-D (t, p, p) tubelets, and the given context frames.

Paper (Sec. 4, video): Kinetics-600 16x64x64 clips cut into 2x4x4 tubelets, 2048 tokens; the
first 5 frames are given and the other 11 generated. The paper does not say how the given
frames enter the network, so both ways are offered (`ModelConfig.conditioning`):

  append  The released `VideoTapeDenoiser`: the context frames go through the same stem and are
          appended after the noisy tokens with positions of their own; they are read and written
          like any token, and only the noisy tokens are read out. Each group of frames is padded
          to whole tubelets (Conv3D SAME padding), so 5 + 11 frames give 3 + 6 slabs = 2304 tokens.
  mask    The context frames sit, clean, in their slots of the F-frame grid, and every frame gets
          one extra input channel, 1 for a given frame and 0 for a noisy one, concatenated before
          the linear embedding. 16 frames give 8 slabs = 2048 tokens, the paper's count. The mask
          is per frame, not per token, because with k odd one tubelet (frames 4, 5 for k = 5) holds
          a clean and a noisy frame; a channel tells the stem which half is which.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from rin.configs.experiment import ModelConfig
from rin.model.attention import keras_glorot_, layer_norm
from rin.model.embeddings import glorot_linear, trunc_normal_table


def pad_frames(clip: torch.Tensor, tubelet: int) -> torch.Tensor:
    """Zero frames appended to (B, F, C, H, W) so that the tubelet size divides F (SAME padding)."""
    missing = -clip.shape[1] % tubelet
    if missing == 0:
        return clip
    return F.pad(clip, (0, 0, 0, 0, 0, 0, 0, missing))  # (B, F + missing, C, H, W)


def tubelet_patchify(clip: torch.Tensor, tubelet: int, patch: int) -> torch.Tensor:
    """(B, F, C, H, W) -> (B, N, t*p*p*C), tokens in (slab, row, col) order; t must divide F."""
    return rearrange(
        clip, "b (f t) c (h p1) (w p2) -> b (f h w) (t p1 p2 c)", t=tubelet, p1=patch, p2=patch
    )  # (B, N, t*p*p*C)


def tubelet_unpatchify(tokens: torch.Tensor, tubelet: int, patch: int, grid: int) -> torch.Tensor:
    """(B, N, t*p*p*C) -> (B, F, C, H, W) with H = W = grid * p; the inverse of `tubelet_patchify`."""
    return rearrange(
        tokens,
        "b (f h w) (t p1 p2 c) -> b (f t) c (h p1) (w p2)",
        h=grid,
        w=grid,
        t=tubelet,
        p1=patch,
        p2=patch,
    )  # (B, F, C, H, W)


class TubeletEmbed(nn.Module):
    """LN(Linear(tubelet)): the Conv3D stem with kernel = stride = (t, p, p); positions come later."""

    def __init__(self, channels: int, tubelet: int, patch: int, dim: int) -> None:
        super().__init__()
        self.tubelet, self.patch = tubelet, patch
        volume = tubelet * patch * patch
        self.proj = glorot_linear(volume * channels, dim)
        # Keras Conv3D fans for a (t, p, p, C, d) kernel: fan_in = t*p*p*C, fan_out = t*p*p*d
        keras_glorot_(self.proj.weight, volume * channels, volume * dim)
        self.norm = layer_norm(dim)

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        """clip (B, F, C, H, W), t dividing F -> tokens (B, N, Dx)."""
        return self.norm(self.proj(tubelet_patchify(clip, self.tubelet, self.patch)))


class TubeletReadout(nn.Module):
    """LN -> Linear(t*p*p*C) -> un-patchify: the video form of `Readout`."""

    def __init__(self, channels: int, tubelet: int, patch: int, grid: int, dim: int) -> None:
        super().__init__()
        self.tubelet, self.patch, self.grid = tubelet, patch, grid
        self.norm = layer_norm(dim)
        self.proj = glorot_linear(dim, tubelet * patch * patch * channels)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (B, N, Dx) -> clip (B, F, C, H, W), F = t * N / grid^2."""
        return tubelet_unpatchify(self.proj(self.norm(tokens)), self.tubelet, self.patch, self.grid)


class VideoInterface(nn.Module):
    """Builds the interface from (x_t, context) and reads the generated frames back out."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        c = config
        self.conditioning = c.conditioning
        self.context_frames = c.context_frames
        self.generated_frames = c.generated_frames
        self.tubelet = c.tubelet
        stem_channels = c.channels + (1 if c.conditioning == "mask" else 0)  # + the context mask
        self.stem = TubeletEmbed(stem_channels, c.tubelet, c.patch_size, c.interface_dim)
        self.pos = trunc_normal_table(c.num_interface_tokens, c.interface_dim)  # over (slab, row, col)
        grid = c.image_size // c.patch_size
        self.readout = TubeletReadout(c.channels, c.tubelet, c.patch_size, grid, c.interface_dim)
        # noisy-frame tokens come first in both schemes; `append` puts the context after them
        self.generated_tokens = -(-c.generated_frames // c.tubelet) * c.num_patches

    def tokenize(self, x_t: torch.Tensor, context: torch.Tensor | None) -> torch.Tensor:
        """x_t (B, F-k, C, H, W), context (B, k, C, H, W) or None when k = 0 -> interface (B, N, Dx)."""
        if self.conditioning == "mask":
            clip = x_t if context is None else torch.cat([context, x_t], dim=1)  # (B, F, C, H, W)
            given = torch.arange(clip.shape[1], device=clip.device) < self.context_frames  # (F,)
            mask = given.to(clip.dtype)[None, :, None, None, None].expand(
                clip.shape[0], -1, 1, *clip.shape[3:]
            )  # (B, F, 1, H, W)
            tokens = self.stem(torch.cat([clip, mask], dim=2))  # (B, N, Dx)
        else:
            tokens = self.stem(pad_frames(x_t, self.tubelet))  # (B, N_gen, Dx)
            if context is not None:
                appended = self.stem(pad_frames(context, self.tubelet))  # (B, N_ctx, Dx)
                tokens = torch.cat([tokens, appended], dim=1)  # (B, N, Dx)
        return tokens + self.pos

    def read_out(self, interface: torch.Tensor) -> torch.Tensor:
        """interface (B, N, Dx) -> prediction for the generated frames (B, F-k, C, H, W)."""
        if self.conditioning == "mask":
            return self.readout(interface)[:, self.context_frames :]  # drop the given frames
        clip = self.readout(interface[:, : self.generated_tokens])  # (B, F-k padded, C, H, W)
        return clip[:, : self.generated_frames]  # crop the SAME padding
