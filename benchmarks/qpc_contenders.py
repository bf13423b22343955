"""The models `quality_per_compute.py` compares, each ready to train and to sample.

`rin` is the given rin config with its own recipe (loss with latent self-conditioning,
optimiser, learning rate). `unet` and `dit` are sized to rin's forward FLOPs per image and
train with their own recipe (`PeerRecipe`); all share rin's batch size, warm-up, EMA decay,
label dropout and sampler settings. A spec `name@lr=X` overrides a model's peak learning rate
(the learning-rate sweep trains several copies of one peer side by side).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import torch
from bench_measure import count_flops
from qpc_flops import Match, forward_flops_on_meta, match_flops
from qpc_peer_nets import build_dit, build_unet, dit_families, unet_families
from qpc_peers import PeerDenoiser, PeerNet, PeerRecipe, peer_loss
from qpc_train import LossFn, Trainee

from rin.cli.info import forward_flops
from rin.configs.experiment import ExperimentConfig
from rin.configs.overrides import apply_overrides
from rin.diffusion.losses import diffusion_loss
from rin.model import RIN, count_parameters
from rin.sampling import DenoiseFn, RINDenoiser
from rin.training.ema import EMA
from rin.training.optim import build_optimizer

KINDS = ("rin", "unet", "dit")
# peak learning rates of the peers, from the sweep recorded in benchmarks/README.md
PEER_LR = {"unet": 4e-3, "dit": 1e-3}


@dataclass
class Contender:
    name: str
    kind: str  # rin, unet or dit
    trainee: Trainee
    forward_gflops: float  # per image, one network evaluation
    train_gflops: float  # per image, one whole training step (rin: both passes and the backward)
    architecture: str
    recipe: str
    make_denoiser: Callable[[torch.Tensor], DenoiseFn]  # labels -> denoise(x_t, gamma) on the EMA model

    @property
    def params(self) -> int:
        return count_parameters(self.trainee.model)


def parse_spec(spec: str) -> tuple[str, float | None]:
    """`unet` -> ("unet", None); `dit@lr=1e-3` -> ("dit", 0.001)."""
    kind, _, option = spec.strip().partition("@")
    if kind not in KINDS:
        raise ValueError(f"unknown model {kind!r}; choose from {', '.join(KINDS)} (optionally @lr=X)")
    if not option:
        return kind, None
    key, _, value = option.partition("=")
    if key != "lr" or not value:
        raise ValueError(f"model option must be lr=X, got {option!r} in {spec!r}")
    return kind, float(value)


def rin_forward_flops(config: ExperimentConfig) -> float:
    """Forward FLOPs per image of the rin config, counted as `rin info` counts them."""
    with torch.device("meta"):
        return float(forward_flops(RIN(config.model)))


def train_flops_per_image(model: torch.nn.Module, loss: LossFn, channels: int, classes: int) -> float:
    """FLOPs of one training step's forward and backward passes per image, counted at batch 2."""
    x0 = torch.rand(2, channels, 32, 32) * 2 - 1
    labels = torch.randint(0, classes, (2,))
    with torch.random.fork_rng(devices=[]):  # the count must not shift any random stream
        flops = count_flops(lambda: loss(x0, labels).backward())
    model.zero_grad(set_to_none=True)
    return flops / 2


def build_contender(spec: str, config: ExperimentConfig, seed: int) -> Contender:
    kind, lr = parse_spec(spec)
    torch.manual_seed(seed)  # the same initialisation stream for every model
    if kind == "rin":
        return _rin(spec, config if lr is None else apply_overrides(config, [f"train.lr={lr}"]))
    return _peer(spec, kind, config, PEER_LR[kind] if lr is None else lr)


def _trainee(name: str, model: torch.nn.Module, loss: LossFn, optimizer, config: ExperimentConfig,
             lr: float) -> Trainee:  # fmt: skip
    tc = config.train
    fraction = float(tc.lr_schedule.split("@")[1]) if tc.lr_schedule.startswith("cosine@") else 0.0
    return Trainee(name, model, loss, optimizer, EMA(model, tc.ema_decay), lr, tc.warmup_steps, fraction)


def _rin(name: str, config: ExperimentConfig) -> Contender:
    m, d, tc = config.model, config.diffusion, config.train
    model = RIN(m)

    def loss(x0: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return diffusion_loss(model, x0, labels, d).loss

    trainee = _trainee(name, model, loss, build_optimizer(model, tc), config, tc.lr)

    def make_denoiser(labels: torch.Tensor) -> DenoiseFn:
        return RINDenoiser(trainee.ema.model, d.prediction, d.normalize_input, labels,
                           guidance=config.sampling.guidance)  # fmt: skip

    conv = f" with a {m.conv_kernel_size}x{m.conv_kernel_size} conv" if m.conv_kernel_size else ""
    return Contender(
        name, "rin", trainee, rin_forward_flops(config) / 1e9,
        train_flops_per_image(model, loss, m.channels, m.num_classes) / 1e9,
        f"RIN (preset {config.name}): patch {m.patch_size}, {m.num_latents} latents x {m.latent_dim}, "
        f"interface {m.interface_dim}{conv}, {m.num_blocks} blocks x {m.block_depth} layers",
        f"{d.prediction} target on {d.schedule}, {tc.optimizer} lr {tc.lr:g} wd {tc.weight_decay:g}, "
        f"self-conditioning {d.self_cond_rate:g}, label dropout {d.cond_dropout:g}",
        make_denoiser,
    )  # fmt: skip


def _peer(name: str, kind: str, config: ExperimentConfig, lr: float) -> Contender:
    m = config.model
    recipe = PeerRecipe(cond_dropout=config.diffusion.cond_dropout, lr=lr)
    build = build_unet if kind == "unet" else build_dit
    match = sized_peer(kind, m.channels, m.num_classes, m.patch_size, rin_forward_flops(config))
    model = build(match.candidate)

    def loss(x0: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return peer_loss(model, x0, labels, recipe)

    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=recipe.weight_decay)
    trainee = _trainee(name, model, loss, optimizer, config, lr)

    def make_denoiser(labels: torch.Tensor) -> DenoiseFn:
        ema = trainee.ema.model
        assert isinstance(ema, PeerNet)
        return PeerDenoiser(ema, recipe.prediction, labels, config.sampling.guidance)

    return Contender(
        name, kind, trainee, match.flops / 1e9,
        train_flops_per_image(model, loss, m.channels, m.num_classes) / 1e9,
        describe_peer(kind, match.candidate),
        f"{recipe.prediction} target on the cosine schedule, AdamW lr {lr:g} wd {recipe.weight_decay:g}, "
        f"label dropout {recipe.cond_dropout:g}",
        make_denoiser,
    )  # fmt: skip


@functools.cache  # the learning-rate sweep builds several copies of one peer
def sized_peer(kind: str, channels: int, classes: int, patch: int, target: float) -> Match[dict]:
    """The peer configuration whose forward FLOPs per image are closest to `target` (within 10%)."""
    if kind == "unet":
        families, build = unet_families(channels, classes), build_unet
    else:
        families, build = dit_families(patch, channels, classes), build_dit
    return match_flops(families, lambda c: peer_forward_flops(build, c, channels), target)


def peer_forward_flops(build: Callable[[dict], PeerNet], candidate: dict, channels: int) -> float:
    """Forward FLOPs per image of a peer candidate, counted on the meta device."""

    def call(net: torch.nn.Module) -> object:  # inputs made here land on the meta device too
        return net(torch.zeros(1, channels, 32, 32), torch.full((1,), 0.5), torch.zeros(1, dtype=torch.long))

    return forward_flops_on_meta(lambda: build(candidate), call)


def describe_peer(kind: str, c: dict) -> str:
    if kind == "unet":
        return (f"UNet2DModel widths {c['block_out_channels']}, {c['layers_per_block']} res blocks per "
                "level, attention at 16x16")  # fmt: skip
    heads = c["num_attention_heads"]
    width = heads * c["attention_head_dim"]
    return f"DiT depth {c['num_layers']}, width {width} ({heads} heads), patch {c['patch_size']}"
