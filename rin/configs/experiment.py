"""Typed configuration for every component, composed into one `ExperimentConfig`.

Plain dataclasses, no torch: a config can be built, validated, printed and saved as JSON
without loading the model. Each field states its unit and the symbol of the RIN paper
(Jabri, Fleet & Chen 2023) or the name of the official pix2seq ("tape") config key.
Every config validates itself in `__post_init__` and raises `ConfigError` with one line.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Literal, get_args, get_type_hints

from rin.configs.schedule_names import parse_gamma_schedule, parse_lr_schedule
from rin.errors import ConfigError


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def _check_choice(config: Any, section: str, name: str) -> None:
    """Check a `Literal` field against the choices of its own annotation (one source of truth)."""
    choices = get_args(get_type_hints(type(config))[name])
    value = getattr(config, name)
    _check(value in choices, f"{section}.{name} must be one of {', '.join(choices)}, got {value!r}")


def _check_finite(config: Any, section: str) -> None:
    """Refuse inf and NaN in every float field: inf passes checks written as `x > 0`, and
    `train.lr=inf` made the first warm-up step's lr 0 x inf = NaN, poisoning the weights."""
    for item in dataclasses.fields(config):
        value = getattr(config, item.name)
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{section}.{item.name} must be a finite number, got {value}")


@dataclass
class ModelConfig:
    """The RIN network (paper Sec. 2; official `TapeDenoiser`)."""

    image_size: int = 32  # H = W, pixels
    channels: int = 3  # C
    patch_size: int = 2  # p; the interface has n = (H/p)^2 tokens
    num_latents: int = 128  # m, *including* the time token and the class token (`latent_slots`)
    latent_dim: int = 512  # d_z
    interface_dim: int = 256  # d_x (`tape_dim`)
    num_blocks: int = 3  # B, untied read/compute/write blocks
    block_depth: int = 2  # D, latent self-attention layers per block (`num_layers` '2,2,2')
    latent_heads: int = 16  # heads of the latent self-attention
    rw_heads: int = 8  # heads of the read and write cross-attention (`rw_num_heads`)
    latent_mlp_ratio: int = 4  # r_z, FFN width / d_z for latents (and the self-cond MLP)
    interface_mlp_ratio: int = 2  # FFN width / d_x after write (`tape_mlp_ratio`); 0 disables it
    dropout: float = 0.1  # dropout on the compute FFN hidden layer (`drop_units`)
    drop_path: float = 0.1  # stochastic depth in the compute layers, per example
    num_classes: int = 10  # one-hot class token on the latents; 0 = unconditional (no class token)
    time_scale: float = 1000.0  # the time token embeds time_scale * gamma (`time_scaling`)
    attention_init: Literal["keras", "torch"] = "keras"  # fan rule of the Q/K/V/O init, see model
    # interface positions: "learned" (all released configs) or "sin_cos_plus_learned" (an option
    # of the official code: a fixed 2-D sin-cos table plus a learned one; strong position early on)
    pos_encoding: Literal["learned", "sin_cos_plus_learned"] = "learned"
    # k of a residual depthwise k x k conv on the interface grid after each write (official
    # `conv_kernel_size`); 0 (every released config) leaves the interface without it
    conv_kernel_size: int = 0
    # video (0 frames = images): clips (B, F, C, H, W) whose first k frames are given
    frames: int = 0  # F, frames per clip, context included (16 for Kinetics-600)
    context_frames: int = 0  # k, given frames at the start of the clip (5 for Kinetics-600)
    tubelet: int = 2  # t, frames per 3-D patch (t, p, p); the paper uses 2x4x4
    # how the k given frames reach the interface (see rin/model/video.py):
    #   "append": tokenised separately by the same stem and appended after the noisy tokens with
    #             their own positions (released `VideoTapeDenoiser`; 2304 tokens for 5 + 11 frames)
    #   "mask":   placed clean in their slots of the F-frame grid, with a per-frame mask channel
    #             (the paper's 2048 tokens for 16 frames)
    conditioning: Literal["append", "mask"] = "mask"

    def __post_init__(self) -> None:
        _check_finite(self, "model")
        for name in ("image_size", "channels", "patch_size", "latent_dim", "interface_dim"):
            _check(getattr(self, name) > 0, f"model.{name} must be positive, got {getattr(self, name)}")
        _check(self.num_blocks >= 1, f"model.num_blocks must be at least 1, got {self.num_blocks}")
        _check(self.block_depth >= 1, f"model.block_depth must be at least 1, got {self.block_depth}")
        _check(
            self.image_size % self.patch_size == 0,
            f"model.patch_size {self.patch_size} does not divide model.image_size {self.image_size}",
        )
        _check(self.num_classes >= 0, f"model.num_classes must be >= 0, got {self.num_classes}")
        _check(
            self.num_latents >= self.num_conditioning_tokens + 1,
            f"model.num_latents {self.num_latents} leaves no learned latent "
            f"(it counts {self.num_conditioning_tokens} conditioning tokens)",
        )
        _check(
            self.latent_heads > 0 and self.latent_dim % self.latent_heads == 0,
            f"model.latent_heads {self.latent_heads} does not divide model.latent_dim {self.latent_dim}",
        )
        _check(
            self.rw_heads > 0 and self.cross_dim % self.rw_heads == 0,
            f"model.rw_heads {self.rw_heads} does not divide the cross-attention width "
            f"min(interface_dim, latent_dim) = {self.cross_dim}",
        )
        _check(
            self.latent_dim % 8 == 0,
            f"model.latent_dim must be a multiple of 8 (time embedding), got {self.latent_dim}",
        )
        _check(self.latent_mlp_ratio >= 1, "model.latent_mlp_ratio must be >= 1")
        _check(self.interface_mlp_ratio >= 0, "model.interface_mlp_ratio must be >= 0")
        _check(0.0 <= self.dropout < 1.0, f"model.dropout must be in [0, 1), got {self.dropout}")
        _check(0.0 <= self.drop_path < 1.0, f"model.drop_path must be in [0, 1), got {self.drop_path}")
        _check_choice(self, "model", "pos_encoding")
        _check(
            self.pos_encoding == "learned" or self.interface_dim % 4 == 0,
            f"model.interface_dim must be a multiple of 4 for sin-cos positions, got {self.interface_dim}",
        )
        _check_choice(self, "model", "attention_init")
        _check(
            self.conv_kernel_size == 0 or (self.conv_kernel_size > 0 and self.conv_kernel_size % 2 == 1),
            f"model.conv_kernel_size must be 0 (off) or an odd size, got {self.conv_kernel_size}",
        )
        self._check_video()

    def _check_video(self) -> None:
        _check(self.frames >= 0, f"model.frames must be >= 0 (0 = images), got {self.frames}")
        if self.frames == 0:
            _check(self.context_frames == 0, "model.context_frames needs a video model (model.frames > 0)")
            return
        _check(
            0 <= self.context_frames < self.frames,
            f"model.context_frames must be in [0, model.frames={self.frames}), got {self.context_frames}",
        )
        _check(self.tubelet >= 1, f"model.tubelet must be >= 1, got {self.tubelet}")
        _check_choice(self, "model", "conditioning")
        _check(
            self.conditioning == "append" or self.frames % self.tubelet == 0,
            f"model.tubelet {self.tubelet} does not divide model.frames {self.frames} "
            "(needed by conditioning=mask; append pads each group of frames)",
        )
        _check(
            self.pos_encoding == "learned",
            "video models use learned positions only (model.pos_encoding=learned)",
        )
        _check(self.conv_kernel_size == 0, "model.conv_kernel_size is for image models only (video: 0)")

    @property
    def cross_dim(self) -> int:
        """Inner width of read/write cross-attention: min(d_x, d_z), as in the official code."""
        return min(self.interface_dim, self.latent_dim)

    @property
    def num_conditioning_tokens(self) -> int:
        """Time token, plus the class token when class-conditional."""
        return 1 + (1 if self.num_classes > 0 else 0)

    @property
    def num_patches(self) -> int:
        """Patches per image (per frame slab for video)."""
        return (self.image_size // self.patch_size) ** 2

    @property
    def is_video(self) -> bool:
        return self.frames > 0

    @property
    def generated_frames(self) -> int:
        """Frames the model denoises: F - k for video."""
        return self.frames - self.context_frames

    @property
    def num_interface_tokens(self) -> int:
        """n: interface tokens, including appended context tokens (video, conditioning=append)."""
        if not self.is_video:
            return self.num_patches
        if self.conditioning == "mask":
            return self.frames // self.tubelet * self.num_patches
        slabs = -(-self.generated_frames // self.tubelet) + -(-self.context_frames // self.tubelet)
        return slabs * self.num_patches  # each group padded to whole tubelets (SAME padding)


@dataclass
class DiffusionConfig:
    """Forward process and training objective (paper Sec. 3; official `diffusion_utils`)."""

    schedule: str = "sigmoid@-3,3,0.9"  # training gamma(t) schedule
    prediction: Literal["eps", "x0", "v"] = "eps"  # what the network predicts (official `pred_type`)
    # the space of the MSE (official `loss_type`): "prediction" = the network's own output; another
    # space converts the output first, e.g. prediction "v" with loss "x0": x0 = alpha x_t - sigma v_hat
    loss: Literal["prediction", "eps", "x0", "v"] = "prediction"
    input_scale: float = 1.0  # b: data in [-b, b] (input scaling, Chen 2023)
    normalize_input: bool = False  # divide x_t by its per-example std before the network
    self_cond_rate: float = 0.9  # fraction of examples that see pass-1 latents in training
    # per-example probability of training with "no label" (official `cond_dropout`, 0 in RIN);
    # > 0 trains the unconditional model that classifier-free guidance needs
    cond_dropout: float = 0.0

    def __post_init__(self) -> None:
        _check_finite(self, "diffusion")
        parse_gamma_schedule(self.schedule, "diffusion.schedule")
        _check_choice(self, "diffusion", "prediction")
        _check_choice(self, "diffusion", "loss")
        _check(self.input_scale > 0, f"diffusion.input_scale must be positive, got {self.input_scale}")
        _check(
            0.0 <= self.self_cond_rate <= 1.0,
            f"diffusion.self_cond_rate must be in [0, 1], got {self.self_cond_rate}",
        )
        _check(
            0.0 <= self.cond_dropout < 1.0,
            f"diffusion.cond_dropout must be in [0, 1), got {self.cond_dropout}",
        )


# the samplers of `rin.sampling.SAMPLERS` (a test keeps the two lists equal)
SamplerName = Literal["ddpm", "ddim", "euler_a", "heun", "dpmpp_2m", "dpmpp_2s", "unipc"]
GridName = Literal["uniform", "logsnr", "karras"]  # time grids of `rin.sampling.grid`
Carry = Literal["every", "grid"]  # which calls' latents the next call starts from


@dataclass
class SamplingConfig:
    """Reverse process (official `Scheduler.generate`)."""

    sampler: SamplerName = "ddpm"
    steps: int = 1000  # sampler steps; second-order samplers make 2 network calls a step
    grid: GridName = "uniform"  # uniform in t (official), or uniform in log-SNR, or EDM/Karras
    # latent self-conditioning through multi-call steps (Heun, DPM-Solver++(2S)): start each call
    # from the latents of the last call ("every"), or only of the last call on a grid point ("grid")
    carry: Carry = "every"
    schedule: str = "cosine"  # inference gamma(t) schedule, independent of the training one
    time_difference: float = 0.0  # td (Bit Diffusion's asymmetric step), 0 in all RIN configs
    clip_x0: bool = True  # clip x0_hat to [-b, b] and re-derive eps from it
    # classifier-free guidance w: out = (1 + w) cond - w uncond (official `guidance`, 0 in RIN);
    # needs a model trained with diffusion.cond_dropout > 0
    guidance: float = 0.0

    def __post_init__(self) -> None:
        _check_finite(self, "sampling")
        for name in ("sampler", "grid", "carry"):
            _check_choice(self, "sampling", name)
        _check(self.steps >= 1, f"sampling.steps must be >= 1, got {self.steps}")
        parse_gamma_schedule(self.schedule, "sampling.schedule")
        _check(self.time_difference >= 0, "sampling.time_difference must be >= 0")
        _check(self.guidance >= 0, f"sampling.guidance must be >= 0, got {self.guidance}")


@dataclass
class DataConfig:
    """Where training images come from."""

    # mnist, cifar10 and folder are held in memory; webdataset shards are streamed (data at scale);
    # moving_mnist clips are generated from the embedded digits; video_folder reads videos or frame
    # folders into memory; video_webdataset streams clip shards (`rin data video`), as webdataset
    dataset: Literal[
        "mnist", "cifar10", "folder", "webdataset", "moving_mnist", "video_folder", "video_webdataset"
    ] = "mnist"
    # shard directory / tar file (cifar10), class-folder root (folder), or shards for (video_)webdataset:
    # a directory, glob, brace pattern or URLs, several joined by "::"
    path: str = ""
    random_flip: bool = False  # random horizontal flip (CIFAR-10 and ImageNet in the official configs)
    # unreadable samples are skipped and counted; more than this fraction of the set stops the run
    max_bad_fraction: float = 0.01
    # an image folder's image of the wrong mode or size: convert it, skip it, or stop with an error
    on_mismatch: Literal["convert", "skip", "error"] = "convert"
    # DataLoader worker processes per rank for data.dataset=(video_)webdataset (0: in-process)
    workers: int = 2
    # moving_mnist: clips generated for the training set; video_folder: held-out clips kept for grids
    num_clips: int = 10_000

    def __post_init__(self) -> None:
        _check_finite(self, "data")
        _check_choice(self, "data", "dataset")
        _check(self.workers >= 0, f"data.workers must be >= 0, got {self.workers}")
        _check(self.num_clips >= 1, f"data.num_clips must be >= 1, got {self.num_clips}")
        _check(
            0.0 <= self.max_bad_fraction <= 1.0,
            f"data.max_bad_fraction must be in [0, 1], got {self.max_bad_fraction}",
        )
        _check_choice(self, "data", "on_mismatch")

    @property
    def streamed(self) -> bool:
        """True for shards that each rank streams (`rin.data.stream`) rather than holds in memory."""
        return self.dataset in ("webdataset", "video_webdataset")

    @property
    def holds_clips(self) -> bool:
        """True for the data sets of video clips, which need a video model."""
        return self.dataset in ("moving_mnist", "video_folder", "video_webdataset")

    @property
    def reads_path(self) -> bool:
        """False for the data sets built into rin (MNIST digits, Moving MNIST), which ignore `path`."""
        return self.dataset not in ("mnist", "moving_mnist")

    def describe(self) -> str:
        """Which data a run trains on, in words (printed at the start of `rin train`)."""
        if self.dataset == "mnist":
            return "the built-in MNIST digits"
        if self.dataset == "moving_mnist":
            return f"{self.num_clips} Moving MNIST clips made from the built-in MNIST digits"
        return f"{self.dataset} at {self.path or '(no path)'}"


@dataclass
class TrainConfig:
    """Optimisation, EMA, logging and checkpointing (official `config_diffusion_*`)."""

    steps: int = 150_000
    batch_size: int = 256  # GLOBAL batch, split over processes and grad_accum micro-batches
    grad_accum: int = 1  # micro-batches per process and step (gradient accumulation)
    # FSDP2 (`fully_shard` per RIN block) instead of DDP when several processes run (`--shard`);
    # checkpoints are then sharded (torch.distributed.checkpoint). Beyond the paper (TPU pods).
    shard: bool = False
    optimizer: Literal["lamb", "adamw"] = "lamb"
    lr: float = 3e-3
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.01  # biases and LayerNorm parameters excluded, as in the official code
    warmup_steps: int = 10_000  # linear warm-up from 0
    lr_schedule: str = "cosine@0.8"  # after warm-up: cosine@r (first fraction r of a cosine) or constant
    ema_decay: float = 0.9999
    grad_clip: float = 0.0  # global grad-norm clip; 0 = off (the official code does not clip LAMB)
    bf16: bool = False  # bf16 autocast for the forward passes
    # torch.compile the model for the training step (static shapes; sample grids stay eager)
    compile: bool = False
    # recompute each RIN block in the backward instead of keeping its activations
    # (torch.utils.checkpoint): about one more forward pass per step for far less activation
    # memory; for the large presets on small devices. Beyond the paper.
    activation_checkpointing: bool = False
    seed: int = 0
    log_every: int = 50  # steps between metrics-log lines
    # also write the metrics as TensorBoard events in <run>/tensorboard (needs `rin[tb]`)
    tensorboard: bool = False
    sample_every: int = 0  # steps between EMA sample grids; 0 = only at the end
    checkpoint_every: int = 1000  # steps between checkpoints (always one at the end)
    num_samples: int = 64  # images in each sample grid
    sample_steps: int = 100  # sampler steps for the grids written during training
    keep_checkpoints: int = 3  # newest complete checkpoints kept; 0 keeps all
    eval_every: int = 0  # steps between evaluations during training (rin train --eval-ref); 0 = off
    eval_num: int = 1000  # samples per evaluation during training
    # a non-finite loss or gradient skips the update; this many in a row stop the run
    max_nonfinite_steps: int = 20

    def __post_init__(self) -> None:
        _check_finite(self, "train")
        _check(self.steps >= 0, f"train.steps must be >= 0, got {self.steps}")
        _check(self.batch_size >= 1, f"train.batch_size must be >= 1, got {self.batch_size}")
        _check(self.grad_accum >= 1, f"train.grad_accum must be >= 1, got {self.grad_accum}")
        _check(
            self.batch_size % self.grad_accum == 0,
            f"train.batch_size={self.batch_size} must be a multiple of train.grad_accum={self.grad_accum}",
        )
        _check_choice(self, "train", "optimizer")
        _check(self.lr > 0, f"train.lr must be positive, got {self.lr}")
        for name in ("beta1", "beta2", "ema_decay"):
            value = getattr(self, name)
            _check(0.0 <= value <= 1.0, f"train.{name} must be in [0, 1], got {value}")
        _check(self.weight_decay >= 0, "train.weight_decay must be >= 0")
        _check(self.warmup_steps >= 0, "train.warmup_steps must be >= 0")
        parse_lr_schedule(self.lr_schedule)
        _check(self.grad_clip >= 0, "train.grad_clip must be >= 0")
        for name in ("log_every", "checkpoint_every", "num_samples", "sample_steps"):
            _check(getattr(self, name) >= 1, f"train.{name} must be >= 1, got {getattr(self, name)}")
        _check(self.sample_every >= 0, "train.sample_every must be >= 0")
        _check(self.keep_checkpoints >= 0, "train.keep_checkpoints must be >= 0 (0 keeps all)")
        _check(self.eval_every >= 0, "train.eval_every must be >= 0 (0 = off)")
        _check(self.eval_num >= 2, f"train.eval_num must be >= 2, got {self.eval_num}")
        _check(self.max_nonfinite_steps >= 1, "train.max_nonfinite_steps must be >= 1")


@dataclass
class ExperimentConfig:
    """Everything a run needs; saved as `config.json` in the run directory and every checkpoint."""

    name: str = "custom"
    model: ModelConfig = field(default_factory=ModelConfig)
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    notes: str = ""  # provenance of the preset's numbers (verified or not)

    def __post_init__(self) -> None:
        unconditional = self.model.num_classes == 0
        _check(
            not (unconditional and self.diffusion.cond_dropout > 0),
            "diffusion.cond_dropout needs a class-conditional model (model.num_classes > 0)",
        )
        _check(
            not (unconditional and self.sampling.guidance > 0),
            "sampling.guidance needs a class-conditional model (model.num_classes > 0)",
        )
        _check(
            not (self.model.is_video and self.data.dataset == "webdataset"),
            "data.dataset=webdataset streams images; a video model needs moving_mnist, video_folder "
            "or video_webdataset",
        )
        _check(
            not (self.data.dataset == "video_webdataset" and not self.model.is_video),
            "data.dataset=video_webdataset streams clips: it needs a video model (set model.frames > 0)",
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExperimentConfig:
        """Rebuild from `to_dict()` output; unknown keys are an error, not silently dropped."""
        return _from_dict(cls, data, "")


def _from_dict(cls: Any, data: Any, prefix: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"config {prefix or 'root'} must be an object, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"unknown config key {prefix}{unknown[0]}")
    kwargs: dict[str, Any] = {}
    defaults = cls()
    for key, value in data.items():
        sub = _SECTIONS.get(key) if cls is ExperimentConfig else None
        if sub is not None:
            kwargs[key] = _from_dict(sub, value, f"{key}.")
        else:
            kwargs[key] = coerce_value(value, getattr(defaults, key), f"{prefix}{key}")
    try:
        return cls(**kwargs)
    except TypeError as error:  # pragma: no cover - dataclass argument errors
        raise ConfigError(f"config {prefix or 'root'}: {error}") from None


def coerce_value(value: Any, default: Any, key: str) -> Any:
    """Check `value` against the type of the field's default; ints widen to floats, nothing else."""
    kind = type(default)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    raise ConfigError(f"{key} must be {kind.__name__}, got {type(value).__name__} {value!r}")


_SECTIONS: dict[str, type] = {
    "model": ModelConfig,
    "diffusion": DiffusionConfig,
    "sampling": SamplingConfig,
    "data": DataConfig,
    "train": TrainConfig,
}
