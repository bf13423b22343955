"""The peer architectures (diffusers `UNet2DModel`, `DiTTransformer2DModel`) and their size grids.

Each `*_families` function lists shapes, each from small to large width, for `qpc_flops.match_flops`.
diffusers is imported only when a network is built, so the grids need no diffusers.
"""

from __future__ import annotations

from typing import Any

import torch
from qpc_peers import PeerMissing, PeerNet
from torch import nn

# U-Net shapes (channel multipliers per resolution, residual blocks per resolution): DDPM's
# CIFAR-10 shape first, then shallower and narrower-at-the-top ones that fit small budgets.
UNET_SHAPES = (
    ((1, 2, 2, 2), 2),
    ((1, 2, 2, 2), 1),
    ((1, 2, 2), 2),
    ((1, 2, 2), 1),
    ((1, 2, 4), 1),
    ((1, 2, 2, 4), 1),
)
UNET_WIDTHS = tuple(range(4, 257, 4))
DIT_DEPTHS = (4, 5, 6, 7, 8, 10, 12)
DIT_HEAD_DIM = 32
DIT_MAX_HEADS = 16


def _diffusers() -> Any:
    try:
        import diffusers
    except ImportError as error:
        raise PeerMissing(f"diffusers is not installed ({error}); pip install diffusers") from None
    return diffusers


def unet_config(width: int, mults: tuple[int, ...], layers: int, channels: int, classes: int) -> dict:
    """A class-conditional UNet2DModel config with DDPM's layout: self-attention at 16x16, one head."""
    sizes = [32 >> i for i in range(len(mults))]
    return dict(
        sample_size=32,
        in_channels=channels,
        out_channels=channels,
        layers_per_block=layers,
        block_out_channels=tuple(width * m for m in mults),
        down_block_types=tuple("AttnDownBlock2D" if s == 16 else "DownBlock2D" for s in sizes),
        up_block_types=tuple("AttnUpBlock2D" if s == 16 else "UpBlock2D" for s in reversed(sizes)),
        attention_head_dim=None,  # one head per attention layer, as DDPM
        norm_num_groups=min(32, width // 2),  # DDPM's 32 groups do not fit 8-channel layers
        num_class_embeds=classes + 1,  # the last one is "no label"
    )


def unet_families(channels: int, classes: int) -> list[list[dict]]:
    return [
        [unet_config(w, mults, layers, channels, classes) for w in UNET_WIDTHS]
        for mults, layers in UNET_SHAPES
    ]


def build_unet(config: dict) -> PeerNet:
    net = _diffusers().UNet2DModel(**config)
    return PeerNet(net, config["num_class_embeds"] - 1, _call_unet)


def _call_unet(
    net: nn.Module, x_t: torch.Tensor, timestep: torch.Tensor, index: torch.Tensor
) -> torch.Tensor:
    return net(x_t, timestep, class_labels=index).sample


def dit_config(heads: int, depth: int, patch: int, channels: int, classes: int) -> dict:
    """A class-conditional DiTTransformer2DModel config (adaLN-Zero, fixed sin-cos positions)."""
    return dict(
        num_attention_heads=heads,
        attention_head_dim=DIT_HEAD_DIM,
        in_channels=channels,
        out_channels=channels,  # no learned variance: rin's samplers use fixed variances
        num_layers=depth,
        sample_size=32,
        patch_size=patch,
        num_embeds_ada_norm=classes,
    )


def dit_families(patch: int, channels: int, classes: int) -> list[list[dict]]:
    heads = range(1, DIT_MAX_HEADS + 1)
    return [[dit_config(h, depth, patch, channels, classes) for h in heads] for depth in DIT_DEPTHS]


def build_dit(config: dict) -> PeerNet:
    net = _diffusers().DiTTransformer2DModel(**config)
    for module in net.modules():
        # diffusers gives every block its own label embedding, each dropping labels on its own
        # 10% coin; label dropout is done once per example in `peer_loss` instead (as in DiT),
        # and these tables keep their extra "no label" row (index num_classes)
        if hasattr(module, "token_drop"):
            module.dropout_prob = 0.0
    if net.device.type != "meta":
        _dit_init(net)
    return PeerNet(net, config["num_embeds_ada_norm"], _call_dit)


def _call_dit(net: nn.Module, x_t: torch.Tensor, timestep: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    return net(x_t, timestep=timestep, class_labels=index).sample


@torch.no_grad()
def _dit_init(net: nn.Module) -> None:
    """DiT's `initialize_weights` (Peebles & Xie 2023, Sec. 3.1): Xavier linears, N(0, 0.02) label
    table and timestep MLP, and adaLN-Zero: every modulation and the output layer start at zero,
    so each block starts as the identity. diffusers leaves this to pretrained weights."""
    for name, module in net.named_modules():
        if isinstance(module, nn.Linear):
            if "timestep_embedder" in name:
                nn.init.normal_(module.weight, std=0.02)
            else:
                nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)
    proj = net.pos_embed.proj  # the patch embedding, initialised like a linear layer
    nn.init.xavier_uniform_(proj.weight.view(proj.weight.shape[0], -1))
    nn.init.zeros_(proj.bias)
    for block in net.transformer_blocks:
        nn.init.zeros_(block.norm1.linear.weight)
        nn.init.zeros_(block.norm1.linear.bias)
    for layer in (net.proj_out_1, net.proj_out_2):
        nn.init.zeros_(layer.weight)
        nn.init.zeros_(layer.bias)
