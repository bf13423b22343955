"""Tests of the RIN network: shapes, parameter counts, gradients and self-conditioning."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch

from rin.configs import PRESETS, ModelConfig, get_preset
from rin.model import RIN, count_parameters
from rin.model.rin import ImageRIN, VideoRIN


def _inputs(config: ModelConfig, batch: int = 3):
    x = torch.randn(batch, config.channels, config.image_size, config.image_size)
    gamma = torch.rand(batch)
    labels = torch.randint(0, max(config.num_classes, 1), (batch,)) if config.num_classes else None
    return x, gamma, labels


def test_output_and_latent_shapes(tiny_config):
    """The prediction has the input's shape and the latents are (B, m, d_z), m counting time and class."""
    model = RIN(tiny_config.model)
    x, gamma, labels = _inputs(tiny_config.model)
    out, latents = model(x, gamma, labels)
    assert out.shape == x.shape
    assert latents.shape == (3, tiny_config.model.num_latents, tiny_config.model.latent_dim)


@pytest.mark.parametrize(("preset", "expected"), [("cifar10", 30.95e6), ("imagenet64-repo", 157.8e6)])
def test_released_configs_count_the_reference_parameters(preset, expected):
    """The two released configs count 30.95M and 157.8M parameters, within 1%."""
    with torch.device("meta"):
        model = RIN(get_preset(preset).model)
    assert abs(count_parameters(model) - expected) / expected < 0.01


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_builds(name):
    """Every preset validates and builds a model (on the meta device: no memory)."""
    with torch.device("meta"):
        model = RIN(get_preset(name).model)
    assert count_parameters(model) > 0


@pytest.mark.parametrize("num_classes", [0, 10])
def test_unconditional_model_has_no_class_token(num_classes, tiny_config):
    """The class token exists only for class-conditional models, and m counts it."""
    config = dataclasses.replace(tiny_config.model, num_classes=num_classes)
    model = RIN(config)
    assert (model.class_token is not None) == (num_classes > 0)
    assert model.latents.shape[0] == config.num_latents - (2 if num_classes else 1)
    _, latents = model(*_inputs(config))
    assert latents.shape[1] == config.num_latents


@pytest.mark.parametrize("self_cond", [False, True])
def test_every_parameter_gets_a_gradient(self_cond, tiny_config):
    """With and without previous latents, a backward pass reaches every parameter (static graph)."""
    model = RIN(tiny_config.model)
    x, gamma, labels = _inputs(tiny_config.model)
    prev = torch.randn(model.latent_shape(3)) if self_cond else None
    out, _ = model(x, gamma, labels, prev)
    out.square().mean().backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None]
    assert missing == []


def test_self_conditioning_is_a_no_op_at_init(tiny_config):
    """LN0 is zero-initialised, so the output at init does not depend on the previous latents."""
    model = RIN(tiny_config.model).eval()
    x, gamma, labels = _inputs(tiny_config.model)
    out_zero, _ = model(x, gamma, labels, None)
    out_prev, _ = model(x, gamma, labels, torch.randn(model.latent_shape(3)) * 5)
    torch.testing.assert_close(out_zero, out_prev, rtol=0, atol=0)


def test_self_conditioning_matters_once_trained(tiny_config):
    """After LN0 leaves zero, previous latents change the output (the path is wired in)."""
    model = RIN(tiny_config.model).eval()
    torch.nn.init.normal_(model.self_cond.out_norm.weight)
    x, gamma, labels = _inputs(tiny_config.model)
    out_zero, _ = model(x, gamma, labels, None)
    out_prev, _ = model(x, gamma, labels, torch.randn(model.latent_shape(3)))
    assert not torch.allclose(out_zero, out_prev)


def test_blocks_are_untied(tiny_config):
    """Each block has its own weights (the author: tying removes capacity)."""
    model = RIN(tiny_config.model)
    a, b = model.blocks[0], model.blocks[1]
    assert a.read_attn.to_q.weight.data_ptr() != b.read_attn.to_q.weight.data_ptr()
    assert not torch.equal(a.read_attn.to_q.weight, b.read_attn.to_q.weight)


def test_conditioning_changes_the_output(tiny_config):
    """gamma and the class label both reach the prediction through their latent tokens."""
    model = RIN(tiny_config.model).eval()
    x, gamma, _ = _inputs(tiny_config.model, batch=2)
    labels = torch.tensor([1, 1])
    base, _ = model(x, gamma, labels)
    other_label, _ = model(x, gamma, torch.tensor([2, 2]))
    other_gamma, _ = model(x, gamma * 0.5, labels)
    assert not torch.allclose(base, other_label)
    assert not torch.allclose(base, other_gamma)


def test_interface_tokens_do_not_interact_directly(tiny_config):
    """No interface self-attention: with the latents' read disabled, a change in one patch
    changes only that patch's output (the interface is processed token-wise)."""
    model = RIN(tiny_config.model).eval()
    for block in model.blocks:
        torch.nn.init.zeros_(block.write_attn.to_out.weight)
        torch.nn.init.zeros_(block.write_attn.to_out.bias)
    x, gamma, labels = _inputs(tiny_config.model, batch=1)
    x2 = x.clone()
    p = tiny_config.model.patch_size
    x2[..., :p, :p] += 1.0
    out, _ = model(x, gamma, labels)
    out2, _ = model(x2, gamma, labels)
    changed = (out - out2).abs() > 1e-6
    assert changed[..., :p, :p].any()
    assert not changed[..., p:, :].any() and not changed[..., :, p:].any()


def test_wrong_shapes_are_refused(tiny_config):
    """Wrong image, gamma or latent shapes raise a ValueError naming the expected shape."""
    model = RIN(tiny_config.model)
    x, gamma, labels = _inputs(tiny_config.model)
    with pytest.raises(ValueError, match="expects x_t"):
        model(x[:, :, :8], gamma, labels)
    with pytest.raises(ValueError, match="gamma"):
        model(x, gamma[:2], labels)
    with pytest.raises(ValueError, match="prev_latents"):
        model(x, gamma, labels, torch.zeros(3, 1, 1))


def test_rin_builds_the_image_or_the_video_form(tiny_config):
    """RIN(config) is an ImageRIN or a VideoRIN by the config, and a deep copy (EMA) keeps the form."""
    image = RIN(tiny_config.model)
    video = RIN(get_preset("moving-mnist").model)
    assert type(image) is ImageRIN and type(video) is VideoRIN
    twin = copy.deepcopy(image)
    assert type(twin) is ImageRIN
    original = image.state_dict()
    assert all(torch.equal(tensor, original[name]) for name, tensor in twin.state_dict().items())
