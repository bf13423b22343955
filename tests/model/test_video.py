"""Tests of the video interface: tubelets, the two context schemes, shapes, gradients, errors."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from rin.configs import ModelConfig, get_preset
from rin.configs.experiment import ConfigError
from rin.model import RIN
from rin.model.video import pad_frames, tubelet_patchify, tubelet_unpatchify


def video_inputs(config: ModelConfig, batch: int = 2):
    frame = (config.channels, config.image_size, config.image_size)
    x_t = torch.randn(batch, config.generated_frames, *frame)
    context = torch.randn(batch, config.context_frames, *frame) if config.context_frames else None
    return x_t, torch.rand(batch), context


def test_tubelet_patchify_then_unpatchify_is_the_identity():
    """(B, F, C, H, W) -> tokens -> back gives the clip bit for bit, and tokens hold t*p*p*C values."""
    clip = torch.randn(2, 6, 3, 8, 12)[..., :8]  # non-contiguous on purpose
    tokens = tubelet_patchify(clip, tubelet=2, patch=4)
    assert tokens.shape == (2, 3 * 2 * 2, 2 * 4 * 4 * 3)
    assert torch.equal(tubelet_unpatchify(tokens, tubelet=2, patch=4, grid=2), clip)


def test_a_token_holds_one_tubelet():
    """Tokens run over (slab, row, col), each a hand-built tubelet flattened as (frame, row, col, C)."""
    clip = torch.randn(1, 4, 2, 8, 8)

    def tubelet(slab: int, row: int, col: int) -> torch.Tensor:
        cube = clip[0, 2 * slab : 2 * slab + 2, :, 4 * row : 4 * row + 4, 4 * col : 4 * col + 4]
        return cube.permute(0, 2, 3, 1).flatten()  # (t, C, p, p) -> (t, p, p, C)

    tokens = tubelet_patchify(clip, tubelet=2, patch=4)
    assert torch.equal(tokens[0, 0], tubelet(0, 0, 0))
    assert torch.equal(tokens[0, 1], tubelet(0, 0, 1))
    assert torch.equal(tokens[0, 2], tubelet(0, 1, 0))
    assert torch.equal(tokens[0, 4], tubelet(1, 0, 0))


def test_pad_frames_appends_zero_frames_only_when_needed():
    """SAME padding: 5 frames -> 6 with a zero last frame; 6 frames stay as they are."""
    clip = torch.randn(1, 5, 1, 4, 4)
    padded = pad_frames(clip, 2)
    assert padded.shape[1] == 6 and torch.equal(padded[:, :5], clip) and not padded[:, 5].any()
    assert pad_frames(padded, 2) is padded


@pytest.mark.parametrize(
    ("conditioning", "frames", "context"), [("mask", 6, 3), ("append", 5, 2), ("mask", 4, 0)]
)
def test_output_shape_matches_the_noisy_frames(conditioning, frames, context, video_config):
    """The prediction has x_t's shape (B, F-k, C, H, W) and the latents are (B, m, d_z)."""
    config = video_config(conditioning, frames, context)
    model = RIN(config)
    x_t, gamma, given = video_inputs(config)
    out, latents = model(x_t, gamma, None, None, context=given)
    assert out.shape == x_t.shape
    assert latents.shape == (2, config.num_latents, config.latent_dim)


@pytest.mark.parametrize(("conditioning", "tokens"), [("mask", 2048), ("append", 2304)])
def test_kinetics600_token_counts(conditioning, tokens):
    """16x64x64 with 5 given frames: mask gives the paper's 2048 tokens, append (released code) 2304."""
    config = dataclasses.replace(get_preset("kinetics600").model, conditioning=conditioning)
    assert config.num_interface_tokens == tokens
    with torch.device("meta"):
        model = RIN(config)
    assert model.video is not None and model.video.pos.shape == (tokens, config.interface_dim)


@pytest.mark.parametrize("conditioning", ["mask", "append"])
@pytest.mark.parametrize("self_cond", [False, True])
def test_every_parameter_gets_a_gradient(conditioning, self_cond, video_config):
    """With either context scheme, with and without previous latents, every parameter gets a gradient."""
    config = video_config(
        conditioning, 6 if conditioning == "mask" else 5, 3 if conditioning == "mask" else 2
    )
    model = RIN(config)
    x_t, gamma, given = video_inputs(config)
    prev = torch.randn(model.latent_shape(2)) if self_cond else None
    out, _ = model(x_t, gamma, None, prev, context=given)
    out.square().mean().backward()
    assert [name for name, p in model.named_parameters() if p.grad is None] == []


@pytest.mark.parametrize("conditioning", ["mask", "append"])
def test_the_prediction_depends_on_the_context_frames(conditioning, video_config):
    """Changing only the given frames changes the prediction (the context reaches the latents)."""
    config = video_config(conditioning, 6, 3) if conditioning == "mask" else video_config(conditioning, 5, 2)
    model = RIN(config).eval()
    x_t, gamma, given = video_inputs(config)
    out, _ = model(x_t, gamma, None, None, context=given)
    other, _ = model(x_t, gamma, None, None, context=given + 1.0)
    assert not torch.allclose(out, other)


def test_mask_channel_tells_given_from_noisy_frames_within_a_tubelet(video_config):
    """The mixed tubelet (given frame 2, noisy frame 3) embeds differently from the same pixels with the
    opposite per-frame mask: the stem knows which frame of the tubelet is clean."""
    config = video_config("mask", 6, 3)
    model = RIN(config).eval()
    assert model.video is not None
    pixels = torch.randn(1, 2, 1, 8, 8)  # one slab: frames 2 and 3
    given_first = torch.tensor([1.0, 0.0]).view(1, 2, 1, 1, 1).expand(1, 2, 1, 8, 8)
    a = model.video.stem(torch.cat([pixels, given_first], dim=2))
    b = model.video.stem(torch.cat([pixels, 1.0 - given_first], dim=2))
    assert not torch.allclose(a, b)


def test_bad_video_inputs_give_one_line_errors(video_config):
    """Wrong x_t frames, missing or misshapen context, and context for an image model are refused."""
    config = video_config("mask", 6, 3)
    model = RIN(config)
    x_t, gamma, given = video_inputs(config)
    with pytest.raises(ValueError, match="expects x_t"):
        model(torch.randn(2, 6, 1, 8, 8), gamma, None, None, context=given)
    with pytest.raises(ValueError, match="context frames of shape"):
        model(x_t, gamma, None, None, context=None)
    with pytest.raises(ValueError, match="context frames of shape"):
        model(x_t, gamma, None, None, context=given[:, :2])
    image = RIN(get_preset("tiny").model)
    with pytest.raises(ValueError, match="image model"):
        image(torch.randn(2, 1, 32, 32), gamma, None, None, context=given)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"context_frames": 6}, "context_frames"),
        ({"conditioning": "mask", "frames": 5}, "does not divide"),
        ({"conditioning": "sideways"}, "conditioning"),
        ({"frames": 0}, "needs a video model"),
    ],
)
def test_bad_video_configs_are_refused(changes, message, video_config):
    """Invalid video settings raise a one-line ConfigError naming the field."""
    fields = dataclasses.asdict(video_config()) | changes
    with pytest.raises(ConfigError, match=message):
        ModelConfig(**fields)
