"""Tests of LAMB, the parameter groups and the learning-rate schedule."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from rin.configs import TrainConfig
from rin.training.optim import Lamb, build_optimizer, learning_rate, parameter_groups


def test_lamb_first_step_matches_the_closed_form():
    """Step 1: update = g/(|g|+eps) + wd w, scaled by ||w||/||update||, times lr (tfa LAMB)."""
    w0 = torch.tensor([[1.0, -2.0], [0.5, 3.0]])
    g = torch.tensor([[0.1, 0.2], [-0.3, 0.4]])
    w = torch.nn.Parameter(w0.clone())
    w.grad = g.clone()
    opt = Lamb([{"params": [w], "weight_decay": 0.01, "adapt": True}], lr=0.1, eps=1e-8)
    opt.step()
    update = g / (g.abs() + 1e-8) + 0.01 * w0
    expected = w0 - 0.1 * (w0.norm() / update.norm()) * update
    torch.testing.assert_close(w.data, expected)


def test_lamb_without_adaptation_is_adam_like():
    """A group with adapt=False and no decay takes a plain bias-corrected Adam step."""
    w = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    w.grad = torch.tensor([0.5, -0.25])
    Lamb([{"params": [w], "weight_decay": 0.0, "adapt": False}], lr=0.01).step()
    torch.testing.assert_close(w.data, torch.tensor([1.0 - 0.01, 2.0 + 0.01]))


def test_biases_and_norms_are_exempt_but_tables_decay(tiny_config):
    """1-D tensors (biases, LayerNorm) get no decay or adaptation; position tables and latents do."""
    from rin.model import RIN

    model = RIN(tiny_config.model)
    decay, exempt = parameter_groups(model, 0.01)
    decay_ids = {id(p) for p in decay["params"]}
    assert id(model.patch_embed.pos) in decay_ids and id(model.latents) in decay_ids
    assert id(model.patch_embed.norm.weight) not in decay_ids
    assert exempt["weight_decay"] == 0.0 and exempt["adapt"] is False
    assert len(decay["params"]) + len(exempt["params"]) == len(list(model.parameters()))


def test_lamb_in_chunks_equals_lamb_in_one_pass(tiny_config):
    """Updating a few tensors at a time (bounded temporaries) gives bit-identical weights."""
    from rin.model import RIN

    models = [RIN(tiny_config.model) for _ in range(2)]
    models[1].load_state_dict(models[0].state_dict())
    optimizers = [build_optimizer(m, tiny_config.train) for m in models]
    optimizers[0].chunk_elements = 1  # one tensor per chunk
    optimizers[1].chunk_elements = 1 << 40  # everything at once
    for step in range(3):
        torch.manual_seed(step)
        grads = [torch.randn_like(p) for p in models[0].parameters()]
        for model, optimizer in zip(models, optimizers, strict=True):
            for p, g in zip(model.parameters(), grads, strict=True):
                p.grad = g.clone()
            optimizer.step()
    for a, b in zip(models[0].parameters(), models[1].parameters(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("name", ["lamb", "adamw"])
def test_both_optimizers_build_and_step(name, tiny_config):
    """LAMB and AdamW build from the config and change the weights."""
    from rin.model import RIN

    model = RIN(tiny_config.model)
    opt = build_optimizer(model, dataclasses.replace(tiny_config.train, optimizer=name))
    before = model.latents.detach().clone()
    out, _ = model(torch.randn(2, 1, 32, 32), torch.rand(2), torch.tensor([0, 1]))
    out.square().mean().backward()
    opt.step()
    assert not torch.equal(before, model.latents)


def test_learning_rate_warmup_and_truncated_cosine():
    """Linear warm-up to lr, then cosine@0.8 ends at lr (1 + cos(0.8 pi)) / 2 ~ 0.095 lr."""
    config = TrainConfig(steps=1000, lr=1.0, warmup_steps=100, lr_schedule="cosine@0.8")
    assert learning_rate(0, config) == 0.0  # official: step / warmup * lr
    assert learning_rate(50, config) == pytest.approx(0.5)
    assert learning_rate(99, config) == pytest.approx(0.99)
    assert learning_rate(100, config) == pytest.approx(1.0)
    assert learning_rate(1000, config) == pytest.approx(0.5 * (1 + math.cos(0.8 * math.pi)))
    lrs = [learning_rate(s, config) for s in range(100, 1001)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:], strict=False))


def test_constant_schedule():
    """`constant` keeps the peak LR after warm-up."""
    config = TrainConfig(steps=50, lr=0.5, warmup_steps=0, lr_schedule="constant")
    assert learning_rate(0, config) == learning_rate(49, config) == 0.5
