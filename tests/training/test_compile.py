"""Tests of the `train.compile` option: torch.compile gives the eager results (slow: inductor
builds C++ kernels, minutes on a shared 2-core CPU)."""

from __future__ import annotations

import pytest
import torch

from rin.configs import apply_overrides
from rin.data import load_mnist
from rin.sampling import generate
from rin.training import train


@pytest.mark.slow
def test_compiled_training_matches_eager(tiny_config, tmp_path):
    """Two training steps with train.compile=true give the eager losses within float tolerance."""
    data = load_mnist("train").subset(list(range(0, 800, 40)))
    losses: dict[bool, list[float]] = {False: [], True: []}
    for compiled in (False, True):
        config = apply_overrides(tiny_config, ["train.steps=2", f"train.compile={str(compiled).lower()}"])
        train(config, tmp_path / str(compiled), data=data, progress=False,
              on_step=lambda step, loss, c=compiled: losses[c].append(loss))  # fmt: skip
    assert len(losses[True]) == 2
    assert losses[True] == pytest.approx(losses[False], rel=1e-4, abs=1e-5)


@pytest.mark.slow
def test_compiled_sampling_matches_eager(tiny_config):
    """DDPM sampling with a compiled model (latents carried between steps) gives the eager images."""
    from rin.model import RIN

    torch.manual_seed(0)
    model = RIN(tiny_config.model)
    shape = (1, 32, 32)
    labels = torch.arange(4)
    images = {}
    for compiled in (False, True):
        net = torch.compile(model, dynamic=False) if compiled else model
        generator = torch.Generator().manual_seed(1)
        images[compiled] = generate(
            net, shape, 4, tiny_config.diffusion, tiny_config.sampling, labels, generator
        )
    torch.testing.assert_close(images[True], images[False], rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_compiled_training_with_activation_checkpointing_matches_eager(tiny_config, tmp_path):
    """Compiled training with checkpointed blocks gives the plain eager losses."""
    data = load_mnist("train").subset(list(range(0, 800, 40)))
    losses: dict[bool, list[float]] = {False: [], True: []}
    for compiled in (False, True):
        flags = [
            f"train.compile={str(compiled).lower()}",
            f"train.activation_checkpointing={str(compiled).lower()}",
        ]
        config = apply_overrides(tiny_config, ["train.steps=2", *flags])
        train(config, tmp_path / str(compiled), data=data, progress=False,
              on_step=lambda step, loss, c=compiled: losses[c].append(loss))  # fmt: skip
    assert len(losses[True]) == 2
    assert losses[True] == pytest.approx(losses[False], rel=1e-4, abs=1e-5)


@pytest.mark.parametrize("compiled", [False, True])
def test_compile_option_compiles_the_training_model(tiny_config, tmp_path, monkeypatch, compiled):
    """Positive control (fast): train.compile=true hands the RIN to torch.compile, and only then."""
    from rin.model import RIN

    calls: list[torch.nn.Module] = []

    def spy(module, **kwargs):
        calls.append(module)
        return module  # eager stand-in: the slow tests above check the compiled numbers

    monkeypatch.setattr(torch, "compile", spy)
    config = apply_overrides(tiny_config, ["train.steps=1", f"train.compile={str(compiled).lower()}"])
    train(config, tmp_path, data=load_mnist("train").subset(list(range(16))), progress=False)
    assert len(calls) == int(compiled) and all(isinstance(module, RIN) for module in calls)
