"""Tests of the attention layers: the key biases softmax ignores, and SDPA / bf16 matmul attention."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rin.model import RIN
from rin.model.attention import attend, softmax_invariant_parameters


def test_key_biases_are_the_parameters_the_output_ignores(tiny_config):
    """softmax_invariant_parameters names every attention key bias, and changing them leaves the
    output unchanged (softmax ignores a per-query constant), so zeroing their gradient is exact."""
    model = RIN(tiny_config.model).eval()
    names = {id(p): n for n, p in model.named_parameters()}
    found = [names[id(p)] for p in softmax_invariant_parameters(model)]
    expected = [n for n, _ in model.named_parameters() if n.endswith("to_k.bias")]
    assert found == expected and len(found) >= 3  # latent self-attention, read and write
    x = torch.randn(2, tiny_config.model.channels, tiny_config.model.image_size, tiny_config.model.image_size)
    t, labels = torch.rand(2), torch.tensor([1, 2])
    before = model(x, t, labels)[0]
    with torch.no_grad():
        for bias in softmax_invariant_parameters(model):
            bias.normal_(std=3.0)
    torch.testing.assert_close(model(x, t, labels)[0], before, rtol=1e-5, atol=1e-5)


def _qkv(dtype: torch.dtype, nq: int = 12, nk: int = 20) -> list[torch.Tensor]:
    torch.manual_seed(0)
    shapes = ((2, 4, nq, 8), (2, 4, nk, 8), (2, 4, nk, 8))
    return [torch.randn(s, dtype=dtype, requires_grad=True) for s in shapes]


def test_fp32_attention_is_sdpa_bit_for_bit() -> None:
    """In fp32 `attend` is scaled_dot_product_attention itself: the same output bits."""
    q, k, v = _qkv(torch.float32)
    assert torch.equal(attend(q, k, v), F.scaled_dot_product_attention(q, k, v))


def test_bf16_attention_and_its_gradients_match_fp32_sdpa() -> None:
    """bf16 matmul attention (cross-attention shapes) and its q/k/v gradients agree with fp32 SDPA."""
    q, k, v = _qkv(torch.bfloat16)
    grad = torch.randn(q.shape[:-1] + (v.shape[-1],))
    out = attend(q, k, v)
    assert out.dtype == torch.bfloat16
    out.backward(grad.bfloat16())
    ref_inputs = [t.detach().float().requires_grad_() for t in (q, k, v)]
    ref = F.scaled_dot_product_attention(*ref_inputs)
    ref.backward(grad)
    assert torch.allclose(out.float(), ref, atol=3e-2, rtol=3e-2)
    for ours, theirs in zip((q, k, v), ref_inputs, strict=True):
        assert ours.grad is not None and theirs.grad is not None
        scale = theirs.grad.abs().max()
        assert (ours.grad.float() - theirs.grad).abs().max() < 3e-2 * scale
    # and not trivially: the attention weights are far from uniform on these inputs
    assert (ref - v.detach().float().mean(dim=2, keepdim=True)).abs().max() > 0.1


def test_bf16_attention_without_gradient_is_sdpa_bit_for_bit() -> None:
    """Under no_grad (pass 1, sampling) bf16 attention is the SDPA forward itself."""
    q, k, v = _qkv(torch.bfloat16)
    with torch.no_grad():
        ours, sdpa = attend(q, k, v), F.scaled_dot_product_attention(q, k, v)
    assert torch.equal(ours, sdpa)
    assert not torch.equal(attend(q, k, v).detach(), sdpa)  # with a gradient it is the matmul path


def test_bf16_attention_with_dropout_keeps_sdpa() -> None:
    """With attention dropout the bf16 path is SDPA's (dropout zeroes about the asked fraction)."""
    q, k, v = _qkv(torch.bfloat16, nq=64, nk=64)
    torch.manual_seed(1)
    with_dropout = attend(q, k, v, dropout=0.5)
    torch.manual_seed(1)
    assert torch.equal(with_dropout, F.scaled_dot_product_attention(q, k, v, dropout_p=0.5))
