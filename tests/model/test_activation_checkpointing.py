"""Tests of `train.activation_checkpointing`: recomputed blocks give the same loss and gradients,
with dropout and drop-path on, while the forward keeps far fewer activations."""

from __future__ import annotations

import torch

from rin.configs import apply_overrides
from rin.diffusion import diffusion_loss
from rin.model import RIN

_NOISY = ["model.dropout=0.1", "model.drop_path=0.1"]  # masks must be replayed exactly


def _loss_and_grads(model: RIN, config, seed: int) -> tuple[float, dict[str, torch.Tensor]]:
    model.train()
    model.zero_grad(set_to_none=True)
    torch.manual_seed(seed)
    x0 = torch.rand(4, 1, 32, 32) * 2 - 1
    loss = diffusion_loss(model, x0, torch.arange(4), config.diffusion).loss
    loss.backward()
    return loss.item(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def test_checkpointed_blocks_give_the_same_loss_and_gradients(tiny_config):
    """Self-conditioned loss and every parameter gradient match the plain forward (same seed)."""
    config = apply_overrides(tiny_config, _NOISY)
    torch.manual_seed(0)
    model = RIN(config.model)
    plain_loss, plain = _loss_and_grads(model, config, seed=5)
    torch.manual_seed(0)
    ckpt_loss, ckpt = _loss_and_grads(RIN(config.model, activation_checkpointing=True), config, seed=5)
    assert ckpt_loss == plain_loss
    assert ckpt.keys() == plain.keys() == {n for n, _ in model.named_parameters()}
    for name in plain:
        torch.testing.assert_close(ckpt[name], plain[name], rtol=1e-5, atol=1e-6, msg=name)


def _saved_bytes(model: RIN) -> int:
    """Bytes of the tensors autograd saves in one forward of pass 2 (what the backward keeps)."""
    total = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal total
        total += t.numel() * t.element_size()
        return t

    x_t = torch.randn(8, 1, 32, 32)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x_t, torch.full((8,), 0.5), torch.arange(8), None)
    return total


def test_checkpointing_keeps_fewer_activations(tiny_config):
    """The checkpointed forward saves under half the bytes of the plain one."""
    plain = _saved_bytes(RIN(tiny_config.model).train())
    assert _saved_bytes(RIN(tiny_config.model, activation_checkpointing=True).train()) < plain / 2


def test_no_recomputation_without_gradients(tiny_config, monkeypatch):
    """Sampling (no grad) runs the blocks directly even with the option on."""
    import rin.model.rin as rin_module

    def refuse(*args, **kwargs):
        raise AssertionError("checkpoint() called without gradients")

    monkeypatch.setattr(rin_module, "checkpoint", refuse)
    model = RIN(tiny_config.model, activation_checkpointing=True).eval()
    with torch.no_grad():
        out, _ = model(torch.randn(2, 1, 32, 32), torch.full((2,), 0.5), torch.arange(2), None)
    assert out.shape == (2, 1, 32, 32)
