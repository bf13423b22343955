"""The interface convolution (official `conv_kernel_size`): identity at init, neighbours meet, off."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from rin.configs import ModelConfig
from rin.errors import ConfigError
from rin.model import RIN
from rin.model.interface_conv import InterfaceConv


def _conv_config(tiny_config, kernel: int = 3) -> ModelConfig:
    return dataclasses.replace(tiny_config.model, conv_kernel_size=kernel)


def test_the_block_starts_as_the_identity():
    """The near-zero pointwise kernel makes x + conv(x) equal x at init; trained weights do not."""
    conv = InterfaceConv(16, 3, grid=4)
    x = torch.randn(2, 16, 16)
    assert torch.allclose(conv(x), x, atol=1e-4)
    torch.nn.init.normal_(conv.pointwise.weight)
    assert (conv(x) - x).abs().max() > 1e-2  # positive control: the branch is live


def test_the_initialisation_is_the_keras_variance_scaling():
    """Depthwise kernel uniform in +-sqrt(6 / (k*k*(d+1))) (Keras fan_avg), not torch's wider default."""
    dim, k = 16, 3
    bound = math.sqrt(6.0 / (k * k * dim + k * k))
    weight = InterfaceConv(dim, k, grid=4).depthwise.weight
    assert 0.8 * bound < weight.abs().max() <= bound
    assert bound < 1 / k  # torch's default bound 1/sqrt(fan_in = k*k) would fail the check above


def test_with_the_conv_neighbouring_patches_meet_without_the_latents(tiny_config):
    """With the write attention zeroed, a change in one patch reaches other patches only through the conv."""
    changed = {}
    for kernel in (0, 3):
        torch.manual_seed(0)
        model = RIN(_conv_config(tiny_config, kernel)).eval()
        for block in model.blocks:
            torch.nn.init.zeros_(block.write_attn.to_out.weight)
            torch.nn.init.zeros_(block.write_attn.to_out.bias)
            if block.conv is not None:
                torch.nn.init.normal_(block.conv.pointwise.weight, std=0.1)
        x, gamma, labels = torch.randn(1, 1, 32, 32), torch.rand(1), torch.tensor([3])
        x2 = x.clone()
        x2[..., :8, :8] += 1.0  # patch (0, 0) of the 4 x 4 grid
        out, out2 = model(x, gamma, labels)[0], model(x2, gamma, labels)[0]
        changed[kernel] = ((out - out2).abs() > 1e-6)[..., 8:, 8:].any().item()
    assert changed == {0: False, 3: True}


def test_every_parameter_gets_a_gradient_with_the_conv(tiny_config):
    """The conv's weights and norms are trained (a static graph, as DDP needs)."""
    model = RIN(_conv_config(tiny_config))
    out, _ = model(torch.randn(2, 1, 32, 32), torch.rand(2), torch.tensor([1, 2]))
    out.square().mean().backward()
    names = [name for name, _ in model.named_parameters()]
    assert any(".conv.depthwise." in name for name in names)
    assert [name for name, p in model.named_parameters() if p.grad is None] == []


def test_off_by_default_adds_no_parameters(tiny_config):
    """conv_kernel_size 0 (the released configs) builds no conv: checkpoints keep their tensor names."""
    assert tiny_config.model.conv_kernel_size == 0
    assert not any(".conv." in name for name, _ in RIN(tiny_config.model).named_parameters())


@pytest.mark.parametrize("kernel", [2, -1])
def test_even_or_negative_kernels_are_refused(tiny_config, kernel):
    """An even kernel has no centre (SAME padding would shift the grid); a negative one means nothing."""
    with pytest.raises(ConfigError, match="conv_kernel_size"):
        _conv_config(tiny_config, kernel)


def test_video_models_refuse_the_conv(video_config):
    """The conv is 2-D on one image's patch grid; video interfaces keep 0."""
    with pytest.raises(ConfigError, match="image models only"):
        dataclasses.replace(video_config(), conv_kernel_size=3)
