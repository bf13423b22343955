"""Tests of the typed configs, presets and --set overrides."""

from __future__ import annotations

import pytest

from rin.configs import PRESETS, ConfigError, apply_overrides, config_from_json, config_to_json, get_preset


@pytest.mark.parametrize("name", list(PRESETS))
def test_presets_round_trip_through_json(name):
    """Every preset survives config -> JSON -> config unchanged."""
    config = get_preset(name)
    assert config_from_json(config_to_json(config)) == config


def test_cifar10_preset_is_the_released_config():
    """The cifar10 preset carries the released hyper-parameters (pix2seq `config_diffusion_cifar10.py`)."""
    c = get_preset("cifar10")
    m = c.model
    assert (m.patch_size, m.num_latents, m.num_blocks, m.block_depth) == (2, 128, 3, 2)
    assert (m.latent_dim, m.interface_dim, m.latent_heads, m.rw_heads) == (512, 256, 16, 8)
    assert (m.interface_mlp_ratio, m.dropout, m.drop_path, m.num_classes) == (2, 0.1, 0.1, 10)
    assert c.diffusion.schedule == "sigmoid@-3,3,0.9" and c.diffusion.prediction == "eps"
    assert c.sampling.schedule == "cosine" and c.sampling.sampler == "ddpm"
    t = c.train
    assert (t.optimizer, t.lr, t.weight_decay, t.warmup_steps, t.lr_schedule) == (
        "lamb",
        3e-3,
        0.01,
        10_000,
        "cosine@0.8",
    )
    assert (t.batch_size, t.steps, t.ema_decay, t.grad_clip) == (256, 150_000, 0.9999, 0.0)


def test_overrides_are_typed():
    """--set parses ints, floats and bools by the field's type and re-validates."""
    c = apply_overrides(get_preset("tiny"), ["train.steps=7", "train.lr=1e-4", "train.bf16=true", "name=x"])
    assert (c.train.steps, c.train.lr, c.train.bf16, c.name) == (7, 1e-4, True, "x")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.patch_size=3", "does not divide model.image_size"),
        ("model.latent_heads=7", "does not divide model.latent_dim"),
        ("model.rw_heads=3", "does not divide the cross-attention width"),
        ("train.steps=-1", "train.steps must be >= 0"),
        ("diffusion.self_cond_rate=1.5", r"in \[0, 1\]"),
        ("train.lr=abc", "must be a number"),
        ("train.steps=2.5", "must be an integer"),
        ("model.nope=1", "unknown config key"),
        ("nosection.x=1", "unknown config key"),
        ("diffusion.schedule=foo", "unknown schedule"),
        ("train.lr", "section.field=value"),
        ("diffusion.cond_dropout=1.0", r"in \[0, 1\)"),
        ("sampling.guidance=-1", "must be >= 0"),
        ("diffusion.prediction=score", "must be one of eps, x0, v"),
        ("data.on_mismatch=ignore", "must be one of convert, skip, error"),
        ("diffusion.schedule=sigmoid@3,-3,1", "needs start < end"),
        ("train.lr_schedule=cosine@1.2.3", "constant or cosine@r"),
    ],
)
def test_bad_overrides_give_one_line_errors(override, message):
    """Each invalid value fails at config time with one line naming the problem."""
    with pytest.raises(ConfigError, match=message) as info:
        apply_overrides(get_preset("cifar10"), [override])
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("override", ["sampling.guidance=2", "diffusion.cond_dropout=0.1"])
def test_guidance_settings_need_a_class_conditional_model(override):
    """Label dropout and guidance on an unconditional model fail at config time."""
    with pytest.raises(ConfigError, match="needs a class-conditional model"):
        apply_overrides(get_preset("tiny"), ["model.num_classes=0", override])


def test_clip_shards_and_image_shards_need_the_matching_model():
    """video_webdataset needs a video model and webdataset an image one; kinetics600 streams clip shards."""
    assert get_preset("kinetics600").data.dataset == "video_webdataset"
    with pytest.raises(ConfigError, match="video_webdataset streams clips: it needs a video model"):
        apply_overrides(get_preset("tiny"), ["data.dataset=video_webdataset"])
    with pytest.raises(ConfigError, match="webdataset streams images"):
        apply_overrides(get_preset("kinetics600"), ["data.dataset=webdataset"])


def test_unknown_preset_lists_the_known_ones():
    """An unknown preset name lists the valid names."""
    with pytest.raises(ConfigError, match="cifar10"):
        get_preset("cifar100")


def test_json_with_wrong_types_or_keys_is_refused():
    """A config.json with an unknown key or a wrong type is refused."""
    text = config_to_json(get_preset("tiny"))
    with pytest.raises(ConfigError, match="unknown config key"):
        config_from_json(text.replace('"steps"', '"stepz"'))
    with pytest.raises(ConfigError, match="must be int"):
        config_from_json(text.replace('"steps": 4', '"steps": "4"'))
    with pytest.raises(ConfigError, match="not valid JSON"):
        config_from_json("{")


@pytest.mark.parametrize(
    "override",
    ["train.lr=inf", "train.lr=nan", "train.ema_decay=nan", "sampling.time_difference=inf",
     "diffusion.input_scale=inf", "model.time_scale=-inf", "train.grad_clip=inf"],
)  # fmt: skip
def test_non_finite_floats_are_refused(override):
    """inf and NaN in any float field are refused with one line naming it (train.lr=inf poisoned a run)."""
    key = override.split("=")[0]
    with pytest.raises(ConfigError, match=rf"{key} must be a finite number") as info:
        apply_overrides(get_preset("tiny"), [override])
    assert "\n" not in str(info.value)
