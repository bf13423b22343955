"""Named presets, each a function returning the fields in which it differs from its parent.

The root is `ExperimentConfig()`, whose defaults are the released CIFAR-10 config (pix2seq
`configs/config_diffusion_cifar10.py`). The paper's larger models fill what its text does not say
with guesses marked "unverified" in `notes`: starting points, not reproductions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from rin.configs.experiment import ConfigError, ExperimentConfig

_RELEASED = "released official config (verified in code)"
_PROJECT = "(not from the paper; see the docstring)"
_IN_NOTES = "tokens from the paper; latents, widths, depth, schedule, lr unverified"  # IN-64, IN-128
_WIDE_6 = {"latent_dim": 1024, "num_blocks": 6}  # the paper's 128-1024 px models (widths unverified)


def _derive(parent: ExperimentConfig, name: str, notes: str, **sections: Any) -> ExperimentConfig:
    """`parent` renamed, with the given fields of each section replaced (and re-validated)."""
    changed = {key: replace(getattr(parent, key), **fields) for key, fields in sections.items()}
    return replace(parent, name=name, notes=notes, **changed)


def cifar10() -> ExperimentConfig:
    """Released CIFAR-10 config: 30.95M parameters, FID 1.81 with 1000 DDPM steps (author, pix2seq #35)."""
    data, train = dict(dataset="cifar10", random_flip=True), dict(checkpoint_every=5000, sample_every=5000)
    return _derive(ExperimentConfig(), "cifar10", _RELEASED, data=data, train=train)


def imagenet64_repo() -> ExperimentConfig:
    """Released ImageNet-64 config (patch 8, 4x4 blocks): 157.8M parameters; not the paper's IN-64 model."""
    return _derive(
        cifar10(), "imagenet64-repo", _RELEASED,
        model=dict(image_size=64, patch_size=8, latent_dim=768, interface_dim=512, num_blocks=4,
                   block_depth=4, rw_heads=16, interface_mlp_ratio=4, dropout=0.0, drop_path=0.0,
                   num_classes=1000),
        diffusion=dict(schedule="linear"), data=dict(dataset="folder"),
        train=dict(batch_size=1024, lr=2e-3, lr_schedule="cosine@0.7"),
    )  # fmt: skip


def _imagenet(name: str, notes: str, scale: float = 1.0, batch: int = 1024, **model: Any) -> ExperimentConfig:
    """The paper's ImageNet rows (Sec. 4): the released IN-64 recipe; "*" rows: input scaling (Chen 2023)."""
    diffusion = {"schedule": "sigmoid@-3,3,1.1", "input_scale": scale, "normalize_input": scale != 1.0}
    train = {"steps": 300_000 if scale == 1.0 else 600_000, "batch_size": batch, "lr": 1e-3}
    return _derive(imagenet64_repo(), name, notes, model=model, diffusion=diffusion, train=train)


def imagenet64() -> ExperimentConfig:
    """Paper IN-64 (FID 1.23): patch 4, 256 tokens verified; width, depth unverified (267M here, ~281M?)."""
    return _imagenet("imagenet64", f"patch 4 / 256 {_IN_NOTES}", patch_size=4, latent_dim=1024)


def imagenet128() -> ExperimentConfig:
    """Paper IN-128 (FID 2.75, 194 GFLOPs): patch 4, 1024 tokens verified; the rest unverified (396M here)."""
    return _imagenet("imagenet128", f"patch 4 / 1024 {_IN_NOTES}", image_size=128, patch_size=4, **_WIDE_6)


def imagenet256() -> ExperimentConfig:
    """Paper IN-256 (FID 3.42 with input scaling, 410M, 600k x 1024): patch 8 verified; 396M here."""
    notes = "patch 8 / 1024 tokens, 410M params and 600k x 1024 from the paper and later papers; "
    notes += "latents, widths, depth, input scale b=0.5 unverified"
    return _imagenet("imagenet256", notes, 0.5, image_size=256, num_latents=256, **_WIDE_6)


def imagenet512() -> ExperimentConfig:
    """Paper IN-512 (FID 3.95 with input scaling, 320M): a configuration that counts 320.6M; unverified."""
    notes = "patch 8 / 4096 tokens and 320M params from the paper; 6x6 blocks, 256 latents, widths "
    notes += "and input scale b=0.5 are a guess that matches the total (unverified)"
    return _imagenet("imagenet512", notes, 0.5, image_size=512, num_latents=256, num_blocks=6, block_depth=6)


def imagenet1024() -> ExperimentConfig:
    """Paper IN-1024 (input scaling, ~415M?): patch 16 and everything else unverified."""
    notes = "1024x1024 without cascades is claimed by the paper; every number here is unverified"
    model = dict(image_size=1024, patch_size=16, num_latents=256, **_WIDE_6)
    return _imagenet("imagenet1024", notes, 0.5, 512, **model)


def kinetics600() -> ExperimentConfig:
    """Paper Kinetics-600 frame prediction (FVD 10.8); `notes` says what is from the paper. Its 2048 tokens
    need conditioning="mask" (released code's "append": 2304); widths, depth guessed: 394.4M, 384.4 GFLOPs."""
    return _derive(
        imagenet64(), "kinetics600",
        "16x64x64, 5 -> 11 frames, 2x4x4 tubelets, 2048 tokens from the paper; 411M params and "
        "387 GFLOPs reported (unverified); latents, widths, depth, schedule, lr, steps unverified; "
        "data: clip shards written by `rin data video` (Kinetics-600 is not bundled)",
        model=dict(num_latents=384, num_blocks=5, block_depth=5, num_classes=0, frames=16, context_frames=5),
        train=dict(num_samples=16), data=dict(dataset="video_webdataset"),  # shards of `rin data video`
    )  # fmt: skip


def mnist() -> ExperimentConfig:
    """Class-conditional MNIST digits for the 2-core CPU demo (a project preset, not from the paper).

    Each departure from the faithful recipe was measured on CPU (README "Faithfulness notes", "Samplers"):
    eps, LAMB, learned positions and Keras init stay at chance at 2.5k steps, x0, AdamW, sin-cos + learned
    positions and PyTorch init learn; at 5k, label dropout 0.1 with guidance w=2 (official code, unused by
    RIN) lifts accuracy from 62% to 86%, td=3 (Bit Diffusion) to 91.6% (td 0/1/2: 84.8/89.0/90.6%).
    DDPM on the Karras grid in 20 calls matches DDPM-100 with td=3 on accuracy, Frechet and variety. The
    official interface conv (k=3, off in RIN's configs) joins strokes across the 4x4 patches: at 2.5k steps
    the Frechet proxy fell from 283-314 to 132 (benchmarks/README.md "Recipe ablations")."""
    return _derive(
        ExperimentConfig(), "mnist", f"project preset for the offline CPU demo {_PROJECT}",
        model=dict(channels=1, patch_size=4, num_latents=16, latent_dim=128, interface_dim=64, num_blocks=2,
                   latent_heads=4, rw_heads=2, dropout=0.0, drop_path=0.0, attention_init="torch",
                   pos_encoding="sin_cos_plus_learned", conv_kernel_size=3),
        diffusion=dict(prediction="x0", cond_dropout=0.1),
        sampling=dict(steps=20, grid="karras", guidance=2.0),
        train=dict(steps=5000, batch_size=32, optimizer="adamw", lr=4e-3, warmup_steps=100, ema_decay=0.998,
                   sample_every=1000, num_samples=100, sample_steps=20),
    )  # fmt: skip


def moving_mnist() -> ExperimentConfig:
    """Frame prediction on Moving MNIST, 32x32, 5 given -> 5 frames (a project preset for the CPU).

    The `mnist` recipe, unconditional: 10 frames in 2x4x4 tubelets give 320 tokens (one mixes a given and a
    generated frame, as in Kinetics-600's 5 -> 11); 8k steps take ~25 min on 2 cores; td=3 lowered the frame
    MSE of 64 held-out continuations from 0.0467 to 0.0407."""
    return _derive(
        mnist(), "moving-mnist", f"project preset for CPU frame prediction {_PROJECT}",
        model=dict(num_latents=32, num_classes=0, pos_encoding="learned", frames=10, context_frames=5,
                   conv_kernel_size=0),
        diffusion=dict(cond_dropout=0.0), data=dict(dataset="moving_mnist"),
        sampling=dict(steps=100, grid="uniform", guidance=0.0, time_difference=3.0),
        train=dict(steps=8000, batch_size=16, lr=2e-3, checkpoint_every=500, num_samples=4, sample_steps=50),
    )  # fmt: skip


def tiny() -> ExperimentConfig:
    """A minimal model for tests and smoke runs (32x32 digits, 16 tokens, seconds on a CPU)."""
    return _derive(
        ExperimentConfig(), "tiny", "test preset",
        model=dict(channels=1, patch_size=8, num_latents=8, latent_dim=32, interface_dim=16, num_blocks=2,
                   block_depth=1, latent_heads=2, rw_heads=2, latent_mlp_ratio=2, dropout=0.0, drop_path=0.0),
        sampling=dict(steps=10),
        train=dict(steps=4, batch_size=8, lr=1e-3, warmup_steps=2, ema_decay=0.9, log_every=1,
                   checkpoint_every=2, num_samples=4, sample_steps=4),
    )  # fmt: skip


_ORDER = (cifar10, imagenet64_repo, imagenet64, imagenet128, imagenet256, imagenet512, imagenet1024, mnist)
PRESETS: dict[str, Callable[[], ExperimentConfig]] = {
    preset().name: preset for preset in (*_ORDER, kinetics600, moving_mnist, tiny)
}


def get_preset(name: str) -> ExperimentConfig:
    """The preset called `name`, or a one-line error listing the known names."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; known presets: {', '.join(PRESETS)}")
    return PRESETS[name]()
