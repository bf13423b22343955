"""Tests of FLOP matching for the quality-per-compute peers (benchmarks/qpc_flops.py, qpc_contenders.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from qpc_flops import FlopMatchError, forward_flops_on_meta, match_flops  # noqa: E402


def mlp(width: int, depth: int) -> nn.Module:
    """A stand-in peer: `depth` hidden layers of `width` on 16 inputs."""
    layers: list[nn.Module] = [nn.Linear(16, width)]
    for _ in range(depth - 1):
        layers += [nn.ReLU(), nn.Linear(width, width)]
    return nn.Sequential(*layers, nn.Linear(width, 16))


def mlp_flops(candidate: tuple[int, int]) -> float:
    return forward_flops_on_meta(lambda: mlp(*candidate), lambda net: net(torch.zeros(1, 16)))


FAMILIES = [[(w, depth) for w in range(4, 200, 4)] for depth in (1, 2, 3)]


def test_forward_flops_on_meta_counts_a_linear_layer():
    """An (in, out) linear layer on one input costs 2 * in * out FLOPs, counted without real memory."""
    assert forward_flops_on_meta(lambda: nn.Linear(16, 8), lambda net: net(torch.zeros(1, 16))) == 2 * 16 * 8


@pytest.mark.parametrize("target_model", [(48, 2), (100, 1), (30, 3)])
def test_match_lands_within_ten_percent_of_the_target(target_model):
    """The chosen stand-in's forward FLOPs are within 10% of the target model's."""
    target = mlp_flops(target_model)
    match = match_flops(FAMILIES, mlp_flops, target)
    assert abs(match.flops / target - 1) <= 0.1
    assert match.flops == mlp_flops(match.candidate)


def test_match_picks_the_closest_candidate():
    """Among all candidates the one with the smallest FLOP ratio error wins."""
    target = mlp_flops((50, 2)) * 1.01
    match = match_flops(FAMILIES, mlp_flops, target)
    best = min((c for family in FAMILIES for c in family), key=lambda c: abs(mlp_flops(c) / target - 1))
    assert abs(match.ratio - 1) == pytest.approx(abs(mlp_flops(best) / target - 1), rel=0.05)


def test_match_stops_walking_a_family_past_the_target():
    """Each family is counted only up to its first candidate above target * 1.1."""
    counted: list[tuple[int, int]] = []

    def counting(candidate):
        counted.append(candidate)
        return mlp_flops(candidate)

    match_flops(FAMILIES, counting, mlp_flops((20, 1)))
    assert len(counted) < sum(len(f) for f in FAMILIES) // 4


def test_match_refuses_when_nothing_is_close():
    """A target between two widely spaced candidates raises FlopMatchError naming the closest."""
    with pytest.raises(FlopMatchError, match="within 10%"):
        match_flops([[(4, 1), (64, 1)]], mlp_flops, mlp_flops((24, 1)))


def test_diffusers_peers_match_a_target_within_ten_percent():
    """The real U-Net and DiT configurations, counted as the benchmark counts them, match a target."""
    pytest.importorskip("diffusers")
    from qpc_contenders import peer_forward_flops
    from qpc_peer_nets import build_dit, build_unet, dit_config, unet_config

    unet_family = [unet_config(w, (1, 2, 2), 1, 1, 10) for w in (4, 8, 12, 16)]
    target = peer_forward_flops(build_unet, unet_family[2], 1) * 1.04
    match = match_flops([unet_family], lambda c: peer_forward_flops(build_unet, c, 1), target)
    assert match.candidate["block_out_channels"] == (12, 24, 24) and abs(match.ratio - 1) <= 0.1

    dit_family = [dit_config(heads, 2, 8, 1, 10) for heads in (1, 2, 3)]
    target = peer_forward_flops(build_dit, dit_family[1], 1) * 0.97
    match = match_flops([dit_family], lambda c: peer_forward_flops(build_dit, c, 1), target)
    assert match.candidate["num_attention_heads"] == 2 and abs(match.ratio - 1) <= 0.1
