"""The models `bench.py` compares: rin presets and the optional peers, each with its own training step.

A `Subject` owns a model, its optimizer and three closures: one full training step at the
training batch, one denoising step at the sampling batch, and FLOP counts per image. Peers are
imported lazily; `build_subject` raises `PeerMissing` with an install hint when one is absent.
"""

from __future__ import annotations

import importlib.machinery
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from bench_measure import count_flops
from torch import nn

from rin.configs import apply_overrides, get_preset
from rin.diffusion import diffusion_loss
from rin.model import RIN, count_parameters
from rin.sampling import RINDenoiser
from rin.sampling.samplers import ddpm_step
from rin.training import build_optimizer

# lucidrains' RIN-pytorch constructor mapped onto the `cifar10` preset (see the shared perf notes):
# it cannot express 8 read/write heads over width 256, the write-side MLP ratio 2, class
# conditioning or dropout, and adds a depthwise conv per block and a pixel self-conditioning input.
LUCID_RIN_CIFAR10 = dict(
    dim=256,
    dim_latent=512,
    image_size=32,
    patch_size=2,
    depth=3,
    latent_self_attn_depth=2,
    num_latents=127,
    latent_token_time_cond=True,
    heads=16,
    dim_head=32,
    patches_self_attn=False,
)

# diffusers UNet2DModel as google/ddpm-cifar10-32 (Ho et al. 2020 CIFAR-10 model, 35.7M parameters)
DDPM_CIFAR10_UNET = dict(
    sample_size=32,
    in_channels=3,
    out_channels=3,
    layers_per_block=2,
    block_out_channels=(128, 256, 256, 256),
    down_block_types=("DownBlock2D", "AttnDownBlock2D", "DownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "UpBlock2D", "AttnUpBlock2D", "UpBlock2D"),
    norm_eps=1e-6,
    downsample_padding=0,
    flip_sin_to_cos=False,
    freq_shift=1,
    dropout=0.1,
)


def adm_unet(resolution: int) -> dict:
    """ADM (Dhariwal & Nichol 2021) ImageNet-64/128 widths as a diffusers UNet2DModel config.

    ADM-64: 192 channels x (1, 2, 3, 4), 3 res blocks; ADM-128: 256 x (1, 1, 2, 3, 4), 2 res
    blocks; attention at 32, 16, 8 with 64-channel heads; scale-shift norm; 1000 classes.
    diffusers' conv down/upsampling stands in for ADM's residual ones (FLOPs slightly lower).
    """
    base, mults, blocks = (192, (1, 2, 3, 4), 3) if resolution == 64 else (256, (1, 1, 2, 3, 4), 2)
    sizes = [resolution >> i for i in range(len(mults))]
    down = tuple("AttnDownBlock2D" if s <= 32 else "DownBlock2D" for s in sizes)
    up = tuple("AttnUpBlock2D" if s <= 32 else "UpBlock2D" for s in reversed(sizes))
    return dict(
        sample_size=resolution,
        in_channels=3,
        out_channels=3,
        layers_per_block=blocks,
        block_out_channels=tuple(base * m for m in mults),
        down_block_types=down,
        up_block_types=up,
        attention_head_dim=64,
        resnet_time_scale_shift="scale_shift",
        num_class_embeds=1000,
    )


class PeerMissing(RuntimeError):
    """A peer package is not installed (the benchmark skips it)."""


@dataclass
class Subject:
    name: str
    model: nn.Module
    train_step: Callable[[bool], object]  # bf16 -> runs one full training step
    sample_step: Callable[[bool], object]  # bf16 -> runs one denoising step
    forward: Callable[[int], object]  # batch -> one forward pass (for FLOP counting)
    train_batch: int
    sample_batch: int
    notes: list[str] = field(default_factory=list)
    key: str = ""  # the `build_subject` name that rebuilds this subject (memory probes)
    # swaps the network the steps call for `torch.compile(network, backend=...)` (FLOPs are counted
    # on the eager network first; `None` where the subject cannot be compiled)
    compile: Callable[[str], None] | None = None

    @property
    def params(self) -> int:
        return count_parameters(self.model)

    def forward_gflops(self) -> float:
        return count_flops(lambda: self.forward(1)) / 1e9

    def train_gflops(self) -> float:
        """FLOPs of one training step per image (both passes and the backward), counted at batch 2."""
        saved = self.train_batch
        self.train_batch = 2
        try:
            return count_flops(lambda: self.train_step(False)) / 2e9
        finally:
            self.train_batch = saved


def _autocast(bf16: bool, device: str = "cpu") -> torch.autocast:
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=bf16)


def _compiler(holder: dict[str, nn.Module]) -> Callable[[str], None]:
    """`compile(backend)` for a subject whose steps call `holder["net"]`; rin's training loop
    compiles the same way (`train.compile`: `torch.compile(net, dynamic=False)`)."""

    def compile_net(backend: str) -> None:
        holder["net"] = torch.compile(holder["net"], backend=backend, dynamic=False)  # type: ignore[assignment]

    return compile_net


def rin_subject(
    preset: str, train_batch: int, sample_batch: int, overrides: list[str], device: str = "cpu"
) -> Subject:
    """rin's own training step (as `rin.training.loop`) and sampling step (denoiser + DDPM update)."""
    config = apply_overrides(get_preset(preset), overrides)
    m = config.model
    model = RIN(m, config.train.activation_checkpointing).to(device)
    optimizer = build_optimizer(model, config.train)
    classes = max(m.num_classes, 1)
    holder: dict[str, nn.Module] = {"net": model}

    def data(batch: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        x0 = torch.rand(batch, m.channels, m.image_size, m.image_size, device=device) * 2 - 1
        return x0, (torch.randint(0, classes, (batch,), device=device) if m.num_classes else None)

    subject = Subject(
        f"rin {preset}",
        model,
        lambda bf16: None,
        lambda bf16: None,
        lambda b: None,
        train_batch,
        sample_batch,
    )

    def train_step(bf16: bool) -> None:
        model.train()
        x0, labels = data(subject.train_batch)
        with _autocast(bf16, device):
            loss = diffusion_loss(holder["net"], x0, labels, config.diffusion).loss  # type: ignore[arg-type]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    x_t, labels = data(sample_batch)
    gamma = torch.full((sample_batch,), 0.5, device=device)
    denoisers: dict[tuple[bool, int], RINDenoiser] = {}

    def sample_step(bf16: bool) -> None:
        model.eval()
        net = holder["net"]
        key = (bf16, id(net))  # a fresh latent carry for the compiled network
        if key not in denoisers:
            denoisers[key] = RINDenoiser(
                net,  # type: ignore[arg-type]
                config.diffusion.prediction,
                labels=labels,
                autocast_dtype=torch.bfloat16 if bf16 else None,
            )
        x0 = denoisers[key](x_t, gamma).clamp(-1, 1)  # carries the latents to the next call
        eps = (x_t - gamma.sqrt().view(-1, 1, 1, 1) * x0) / (1 - gamma).sqrt().view(-1, 1, 1, 1)
        ddpm_step(x_t, eps, gamma, gamma + 0.001, None)

    def forward(batch: int) -> None:
        x0, lab = data(batch)
        model.eval()
        model(x0, torch.full((batch,), 0.5, device=device), lab, None)

    subject.train_step, subject.sample_step, subject.forward = train_step, sample_step, forward
    subject.compile = _compiler(holder)
    return subject


def _stub_torchvision() -> None:
    """RIN-pytorch imports torchvision at module level only for its Trainer's data pipeline,
    which the benchmark does not use; torchvision has no build for this torch, so the benchmark
    process registers empty modules under those names (and prints that it did)."""
    if "torchvision" in sys.modules:
        return
    try:
        import torchvision  # noqa: F401
    except ImportError:
        for name in ("torchvision", "torchvision.transforms", "torchvision.utils"):
            module = types.ModuleType(name)
            module.__spec__ = importlib.machinery.ModuleSpec(name, None)
            sys.modules[name] = module
        sys.modules["torchvision"].transforms = sys.modules["torchvision.transforms"]  # type: ignore[attr-defined]
        sys.modules["torchvision"].utils = sys.modules["torchvision.utils"]  # type: ignore[attr-defined]
        print("note: torchvision is not installed; RIN-pytorch is imported with an empty torchvision stub")


def lucid_rin_subject(train_batch: int, sample_batch: int) -> Subject:
    """RIN-pytorch's own self-conditioned step (its GaussianDiffusion loss, Adam as its Trainer),
    with self-conditioning on every step (its coin flip set to 1) so pass 1 always runs as in rin."""
    _stub_torchvision()
    try:
        from rin_pytorch import RIN as LucidRIN
        from rin_pytorch import GaussianDiffusion
    except ImportError as error:
        raise PeerMissing(f"RIN-pytorch not installed ({error}); pip install rin-pytorch") from None
    model = LucidRIN(**LUCID_RIN_CIFAR10)
    diffusion = GaussianDiffusion(model, objective="eps", train_prob_self_cond=1.0, use_ddim=False)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.9, 0.99))
    subject = Subject(
        "RIN-pytorch (mapped cifar10)",
        model,
        lambda bf16: None,
        lambda bf16: None,
        lambda b: None,
        train_batch,
        sample_batch,
    )

    def train_step(bf16: bool) -> None:
        model.train()
        img = torch.rand(subject.train_batch, 3, 32, 32)  # its loss takes images in [0, 1]
        with _autocast(bf16):
            loss = diffusion(img)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    x_t = torch.randn(sample_batch, 3, 32, 32)
    times = torch.full((sample_batch,), 0.5)
    state: dict[bool, tuple[torch.Tensor | None, torch.Tensor | None]] = {
        False: (None, None),
        True: (None, None),
    }

    @torch.no_grad()
    def sample_step(bf16: bool) -> None:
        model.eval()
        x_start, latents = state[bf16]
        with _autocast(bf16):
            out, latents = model(x_t, times, x_start, latents, return_latents=True)
        state[bf16] = (out.float().clamp(-1, 1), latents)  # x0 self-cond input (eps ~ x0 here)

    def forward(batch: int) -> None:
        model.eval()
        model(torch.randn(batch, 3, 32, 32), torch.full((batch,), 0.5))

    subject.train_step, subject.sample_step, subject.forward = train_step, sample_step, forward
    subject.notes.append(
        f"RIN-pytorch mapping: RIN({', '.join(f'{k}={v}' for k, v in LUCID_RIN_CIFAR10.items())})"
    )
    return subject


def _unet2d(config: dict) -> nn.Module:
    try:
        from diffusers import UNet2DModel
    except ImportError as error:
        raise PeerMissing(f"diffusers not installed ({error}); pip install diffusers") from None
    return UNet2DModel(**config)


def unet_subject(train_batch: int, sample_batch: int, device: str = "cpu") -> Subject:
    """diffusers UNet2DModel at the DDPM CIFAR-10 config: eps loss at integer timesteps, Adam."""
    model = _unet2d(DDPM_CIFAR10_UNET).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-4)
    holder: dict[str, nn.Module] = {"net": model}
    subject = Subject(
        "UNet2DModel (DDPM cifar10)",
        model,
        lambda bf16: None,
        lambda bf16: None,
        lambda b: None,
        train_batch,
        sample_batch,
    )

    def train_step(bf16: bool) -> None:
        model.train()
        batch = subject.train_batch
        x0 = torch.rand(batch, 3, 32, 32, device=device) * 2 - 1
        t = torch.randint(0, 1000, (batch,), device=device)
        noise = torch.randn_like(x0)
        abar = torch.cos((t.float() / 1000 + 0.008) / 1.008 * torch.pi / 2).pow(2).view(-1, 1, 1, 1)
        x_t = abar.sqrt() * x0 + (1 - abar).sqrt() * noise
        with _autocast(bf16, device):
            out = holder["net"](x_t, t).sample
        loss = F.mse_loss(out.float(), noise)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    x_t = torch.randn(sample_batch, 3, 32, 32, device=device)
    t = torch.full((sample_batch,), 500, device=device)

    @torch.no_grad()
    def sample_step(bf16: bool) -> None:
        model.eval()
        with _autocast(bf16, device):
            holder["net"](x_t, t)

    def forward(batch: int) -> None:
        model.eval()
        model(torch.randn(batch, 3, 32, 32, device=device), torch.full((batch,), 500, device=device))

    subject.train_step, subject.sample_step, subject.forward = train_step, sample_step, forward
    subject.compile = _compiler(holder)
    return subject


def unet_forward_gflops(resolution: int) -> tuple[str, int, float]:
    """(name, parameters, forward GFLOPs per image) of the U-Net compared at `resolution`:
    the DDPM CIFAR-10 U-Net at 32, ADM widths at 64 and 128; counted on the meta device."""
    config = DDPM_CIFAR10_UNET if resolution == 32 else adm_unet(resolution)
    name = "DDPM cifar10" if resolution == 32 else f"ADM-{resolution} widths"
    with torch.device("meta"):
        model = _unet2d(config).eval()
        x = torch.zeros(1, 3, resolution, resolution)
        t = torch.zeros(1, dtype=torch.long)
        labels = torch.zeros(1, dtype=torch.long) if config.get("num_class_embeds") else None
        flops = count_flops(lambda: model(x, t, class_labels=labels))
    return name, count_parameters(model), flops / 1e9


def rin_forward_gflops(preset: str) -> tuple[int, float]:
    """(parameters, forward GFLOPs per image) of a rin preset, counted on the meta device."""
    from rin.cli.info import describe

    info = describe(get_preset(preset))
    return int(info["params"]), float(info["gflops_per_image"])  # type: ignore[arg-type]


def build_subject(
    name: str, train_batch: int, sample_batch: int, overrides: list[str], device: str = "cpu"
) -> Subject:
    if name == "lucid-rin":
        if device != "cpu":
            raise PeerMissing(f"RIN-pytorch is measured on the CPU only (asked for {device})")
        subject = lucid_rin_subject(train_batch, sample_batch)
    elif name == "unet":
        subject = unet_subject(train_batch, sample_batch, device)
    else:  # a preset, optionally with its own overrides: "mnist+model.conv_kernel_size=0"
        preset, *own = name.split("+")
        subject = rin_subject(preset, train_batch, sample_batch, [*overrides, *own], device)
        subject.name = f"rin {name}"
    subject.key = name
    return subject
