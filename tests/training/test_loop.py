"""Tests of the training loop: exact resume, overfitting, checkpoints on disk."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from safetensors.torch import load_file

from rin.configs import apply_overrides
from rin.data import load_mnist
from rin.diffusion import diffusion_loss
from rin.model import RIN
from rin.training import build_optimizer, train


@pytest.fixture(scope="module")
def digits():
    return load_mnist("train").subset(list(range(0, 4000, 40)))  # 100 digits, all classes


def _config(tiny_config, steps):
    return apply_overrides(
        tiny_config, [f"train.steps={steps}", "train.checkpoint_every=100", "train.num_samples=2"]
    )


def test_resume_is_bit_identical(tiny_config, digits, tmp_path):
    """N steps, stop, resume for N more == 2N uninterrupted steps, bit for bit (weights and EMA)."""
    config = apply_overrides(_config(tiny_config, 6), ["model.dropout=0.1", "model.drop_path=0.1"])
    full = train(config, tmp_path / "full", data=digits, progress=False)
    train(config, tmp_path / "split", data=digits, progress=False, stop_after=3)
    resumed = train(config, tmp_path / "split", resume="auto", data=digits, progress=False)
    assert resumed.step == full.step == 6
    for a, b in zip(full.model.state_dict().values(), resumed.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    for a, b in zip(full.ema.state_dict().values(), resumed.ema.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_checkpoint_layout_and_grid(tiny_config, digits, tmp_path):
    """A run writes config, metrics, safetensors weights and a final sample grid PNG."""
    result = train(_config(tiny_config, 2), tmp_path, data=digits, progress=False)
    ckpt = result.checkpoint
    assert ckpt is not None and ckpt.name == "step_00000002"
    for name in ("model.safetensors", "ema.safetensors", "state.pt", "config.json", "manifest.json"):
        assert (ckpt / name).is_file()
    weights = load_file(str(ckpt / "model.safetensors"))
    assert set(weights) == set(result.model.state_dict())
    assert (tmp_path / "samples" / "step_00000002.png").is_file()
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert any('"event": "train"' in line for line in lines)


def test_tiny_model_overfits_one_batch(tiny_config):
    """With t and eps fixed, a tiny RIN drives the loss on one batch down by more than half."""
    config = dataclasses.replace(tiny_config.diffusion, self_cond_rate=0.0)
    model = RIN(tiny_config.model)
    opt = build_optimizer(model, dataclasses.replace(tiny_config.train, optimizer="adamw", lr=1e-2))
    x0 = torch.rand(8, 1, 32, 32) * 2 - 1
    t, eps, labels = torch.rand(8), torch.randn(8, 1, 32, 32), torch.arange(8)
    losses = []
    for _ in range(100):
        out = diffusion_loss(model, x0, labels, config, t=t, eps=eps)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        losses.append(out.loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_bf16_autocast_trains_with_finite_loss(tiny_config, digits, tmp_path):
    """With train.bf16 the loop runs under bf16 autocast and the loss stays finite."""
    config = apply_overrides(_config(tiny_config, 2), ["train.bf16=true"])
    result = train(config, tmp_path, data=digits, progress=False)
    assert torch.isfinite(torch.tensor(result.last_loss))


def test_evaluation_during_training_keeps_the_best_checkpoint(tiny_config, digits, tmp_path):
    """With eval_every=1 the evaluator's scores are logged and checkpoints/best is the lowest-scoring step."""
    scores = iter([3.0, 1.0, 2.0])
    seen = []

    def evaluate(ema, step):
        seen.append(step)
        return next(scores)

    config = apply_overrides(_config(tiny_config, 3), ["train.eval_every=1"])
    train(config, tmp_path, data=digits, progress=False, evaluate=evaluate)
    assert seen == [1, 2, 3]
    best = tmp_path / "checkpoints" / "best"
    assert json.loads((best / "score.json").read_text()) == {"score": 1.0, "checkpoint": "step_00000002"}
    kept = load_file(str(best / "ema.safetensors"))
    step_2 = load_file(str(tmp_path / "checkpoints" / "step_00000002" / "ema.safetensors"))
    step_3 = load_file(str(tmp_path / "checkpoints" / "step_00000003" / "ema.safetensors"))
    assert all(torch.equal(kept[k], step_2[k]) for k in kept)
    assert not all(torch.equal(kept[k], step_3[k]) for k in kept)
    events = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [e["score"] for e in events if e["event"] == "eval"] == [3.0, 1.0, 2.0]


def test_activation_checkpointing_reaches_the_model(tiny_config, tmp_path):
    """train.activation_checkpointing=true reaches the model and trains to the same losses."""
    data = load_mnist("train").subset(list(range(0, 400, 20)))
    losses: dict[bool, list[float]] = {False: [], True: []}
    for on in (False, True):
        config = apply_overrides(
            tiny_config,
            [
                "train.steps=2",
                f"train.activation_checkpointing={str(on).lower()}",
                "model.dropout=0.1",
                "model.drop_path=0.1",
            ],
        )
        result = train(config, tmp_path / str(on), data=data, progress=False,
                       on_step=lambda step, loss, c=on: losses[c].append(loss))  # fmt: skip
        assert result.model.activation_checkpointing is on
    assert losses[True] == losses[False]


@pytest.mark.parametrize("optimizer", ["adamw", "lamb"])
def test_attention_key_biases_take_no_noise_steps(tiny_config, digits, tmp_path, optimizer):
    """The key biases, whose true gradient is zero, stay exactly at their init under AdamW and LAMB
    (rounding noise made Adam move them by ~1e-4, so 2 processes differed from 1 there)."""
    config = apply_overrides(
        _config(tiny_config, 5), [f"train.optimizer={optimizer}", "train.warmup_steps=0"]
    )
    result = train(config, tmp_path, data=digits, progress=False)
    weights = result.model.state_dict()
    key_biases = [name for name in weights if name.endswith("to_k.bias")]
    assert key_biases and all(
        torch.equal(weights[name], torch.zeros_like(weights[name])) for name in key_biases
    )
    assert all(weights[name].abs().max() > 0 for name in weights if name.endswith("to_q.bias"))
