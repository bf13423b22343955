"""bf16 autocast training follows the fp32 loss curve (the fp32 loss and LayerNorm islands)."""

from __future__ import annotations

import warnings

import pytest
import torch

from rin.configs import apply_overrides
from rin.data import load_mnist
from rin.training import train


def test_bf16_loss_curve_matches_fp32(tiny_config, tmp_path):
    """30 tiny-preset steps in bf16 autocast stay within 1% of the fp32 losses, and both learn."""
    data = load_mnist("train").subset(list(range(0, 4000, 40)))
    curves: dict[bool, list[float]] = {False: [], True: []}
    for bf16 in (False, True):
        config = apply_overrides(
            tiny_config,
            ["train.steps=30", f"train.bf16={str(bf16).lower()}", "train.checkpoint_every=1000",
             "train.num_samples=2", "train.lr=3e-3", "train.warmup_steps=5"],
        )  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the slow-bf16-CPU warning on AVX2-only machines
            train(config, tmp_path / str(bf16), data=data, progress=False,
                  on_step=lambda step, loss, b=bf16: curves[b].append(loss))  # fmt: skip
    assert curves[True] == pytest.approx(curves[False], rel=1e-2)
    for curve in curves.values():
        assert sum(curve[-10:]) < 0.95 * sum(curve[:10])


@pytest.mark.parametrize("bf16", [False, True])
def test_bf16_option_reaches_the_model(tiny_config, tmp_path, bf16):
    """Positive control: the linear layers compute in bf16 with train.bf16=true, and only then."""
    seen: set[torch.dtype] = set()

    def record(module, inputs, output):
        if isinstance(module, torch.nn.Linear) and module.training:
            seen.add(output.dtype)

    config = apply_overrides(tiny_config, ["train.steps=1", f"train.bf16={str(bf16).lower()}"])
    data = load_mnist("train").subset(list(range(16)))
    handle = torch.nn.modules.module.register_module_forward_hook(record)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the slow-bf16-CPU warning on AVX2-only machines
            train(config, tmp_path, data=data, progress=False)
    finally:
        handle.remove()
    assert (torch.bfloat16 in seen) is bf16
