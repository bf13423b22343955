"""`rin info`: parameters and forward GFLOPs per image (per clip for video) of a preset."""

from __future__ import annotations

import argparse
import json

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from rin.cli.common import add_config_arguments, config_from_args
from rin.configs.experiment import ExperimentConfig
from rin.model import RIN, count_parameters


def forward_flops(model: RIN, batch: int = 1) -> int:
    """FLOPs of one forward pass (with zero previous latents), counted by torch's flop counter.

    The math SDPA backend is forced because the counter sees the fused CPU attention kernel as 0
    FLOPs, and grad mode stays on because the counter can fail under no_grad.
    """
    c = model.config
    device = next(model.parameters()).device  # works on the meta device: no memory, no compute
    frame = (c.channels, c.image_size, c.image_size)
    x = torch.zeros(batch, *((c.generated_frames,) if c.is_video else ()), *frame, device=device)
    context = torch.zeros(batch, c.context_frames, *frame, device=device) if c.context_frames else None
    gamma = torch.full((batch,), 0.5, device=device)
    labels = torch.zeros(batch, dtype=torch.long, device=device) if c.num_classes > 0 else None
    counter = FlopCounterMode(display=False)
    with sdpa_kernel(SDPBackend.MATH), counter:
        model(x, gamma, labels, None, context=context)
    return int(counter.get_total_flops())


def describe(config: ExperimentConfig) -> dict[str, object]:
    with torch.device("meta"):
        model = RIN(config.model)
    params = count_parameters(model)
    flops = forward_flops(model)
    info: dict[str, object] = {
        "preset": config.name,
        "params": params,
        "gflops_per_image": round(flops / 1e9, 4),
        "interface_tokens": config.model.num_interface_tokens,
        "latents": config.model.num_latents,
        "notes": config.notes,
    }
    if config.model.is_video:  # one forward denoises a whole clip
        c = config.model
        info["gflops_per_clip"] = info.pop("gflops_per_image")
        info["clip"] = f"{c.frames}x{c.channels}x{c.image_size}x{c.image_size}, {c.context_frames} given"
        info["conditioning"] = c.conditioning
    return info


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("info", help="parameter count and forward GFLOPs of a preset")
    add_config_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    info = describe(config_from_args(args))
    if args.json:
        print(json.dumps(info))
    else:
        print(f"preset            {info['preset']}")
        print(f"parameters        {info['params']:,} ({info['params'] / 1e6:.2f}M)")  # type: ignore[operator]
        per = "clip" if "gflops_per_clip" in info else "image"
        print(f"forward GFLOPs    {info[f'gflops_per_{per}']} per {per}")
        print(f"interface tokens  {info['interface_tokens']}, latents {info['latents']}")
        print(f"notes             {info['notes']}")
    return 0
