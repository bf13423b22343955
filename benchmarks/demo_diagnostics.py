"""Where a demo model loses sample quality: three measurements with the demo's evaluators.

    python benchmarks/demo_diagnostics.py proxy             # how the Frechet proxy reacts to damage
    python benchmarks/demo_diagnostics.py recon RUN_DIR     # x0 predictions of real digits, low noise
    python benchmarks/demo_diagnostics.py partial RUN_DIR   # real digits noised to sigma0, then sampled
    python benchmarks/demo_diagnostics.py interval RUN_DIR  # guidance only below --sigma-max
    python benchmarks/demo_diagnostics.py weights RUN_DIR   # the run's sampler at each of --weights

`proxy` perturbs 500 real training digits (noise, blur, block offsets, speckle, ...) and scores them
against the held-out digits, so a Frechet figure can be read as "looks like real digits with this
much damage". `recon` feeds real digits at low noise to the model and scores its x0 predictions (a
model that cannot reproduce clean digits would show it here). `partial` noises real digits to
sigma0 (EDM sigma: x_t / alpha = x0 + sigma eps), runs the demo's DDPM from there to 0 in 12 steps
and scores the results: the noise levels from which the samples drift away from real digits are
the levels the model denoises badly. `interval` samples 500 digits with the run's own sampler,
guided only where sigma <= --sigma-max (a guidance interval), against guidance everywhere;
`weights` samples them at each guidance weight of --weights (guidance everywhere). Digits
are 50 per class; one thread; fixed seeds.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from rin.checkpoints import load_model
from rin.data import load_mnist
from rin.diffusion.parameterization import eps_from_x0
from rin.diffusion.schedules import get_schedule
from rin.evaluation import evaluate_digit_samples, load_or_train_digit_classifier, relative_variety
from rin.sampling import sample
from rin.sampling.denoiser import RINDenoiser
from rin.sampling.first_order import ddpm_step

PER_CLASS = 50


def real_digits() -> tuple[torch.Tensor, torch.Tensor]:
    """50 training digits per class as floats in [0, 1] (N, 1, 32, 32), and their labels."""
    train = load_mnist("train")
    index = torch.cat([torch.nonzero(train.labels == c).flatten()[:PER_CLASS] for c in range(10)])
    return train.images[index].float() / 255, train.labels[index]


def report(name: str, images: torch.Tensor, labels: torch.Tensor) -> None:
    """One line: accuracy, Frechet proxy and variety of images in [0, 1] against the held-out digits."""
    heldout = load_mnist("test")
    scores = evaluate_digit_samples(
        images, labels, load_or_train_digit_classifier(), heldout.images, heldout.labels
    )
    variety = relative_variety(images, labels, heldout.images, heldout.labels)
    accuracy, frechet = 100 * scores["sample_accuracy"], scores["frechet_distance"]
    print(f"| {name} | {accuracy:.1f}% | {frechet:.1f} | {variety:.3f} |", flush=True)


def _blur(x: torch.Tensor, std: float) -> torch.Tensor:
    kernel = torch.exp(-(torch.arange(-2, 3).float() ** 2) / (2 * std * std))
    kernel = kernel / kernel.sum()
    x = F.conv2d(x, kernel.view(1, 1, 1, 5), padding=(0, 2))
    return F.conv2d(x, kernel.view(1, 1, 5, 1), padding=(2, 0))


def perturbations(g: torch.Generator) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    """Named kinds of damage applied to digits in [0, 1]."""

    def noise(std: float) -> Callable[[torch.Tensor], torch.Tensor]:
        return lambda x: (x + std * torch.randn(x.shape, generator=g)).clamp(0, 1)

    def blocks(amount: float) -> Callable[[torch.Tensor], torch.Tensor]:
        def damage(x: torch.Tensor) -> torch.Tensor:  # one offset per 4x4 patch, like a patch readout's
            offsets = torch.randn(x.shape[0], 1, 8, 8, generator=g) * amount
            return (x + F.interpolate(offsets, scale_factor=4)).clamp(0, 1)

        return damage

    def speckle(x: torch.Tensor) -> torch.Tensor:
        hit = torch.rand(x.shape, generator=g) < 0.01
        return torch.where(hit, torch.rand(x.shape, generator=g), x)

    return {
        "real digits (floor)": lambda x: x,
        "noise std 0.02": noise(0.02), "noise std 0.05": noise(0.05), "noise std 0.1": noise(0.1),
        "blur std 0.7 px": lambda x: _blur(x, 0.7), "blur std 1 px": lambda x: _blur(x, 1.0),
        "binarized at 0.5": lambda x: (x > 0.5).float(),
        "dilated 3x3": lambda x: F.max_pool2d(x, 3, 1, 1),
        "4x4 block offsets std 0.05": blocks(0.05), "4x4 block offsets std 0.1": blocks(0.1),
        "1% speckle": speckle,
    }  # fmt: skip


def proxy() -> None:
    images, labels = real_digits()
    g = torch.Generator().manual_seed(1)
    for name, damage in perturbations(g).items():
        report(name, damage(images), labels)


def _denoiser(run: str, labels: torch.Tensor, guidance: float) -> tuple[RINDenoiser, str]:
    model, config = load_model(run)
    return RINDenoiser(model, config.diffusion.prediction, labels=labels, guidance=guidance), run


def _gamma(sigma: float) -> float:
    return 1.0 / (1.0 + sigma * sigma)


def recon(run: str) -> None:
    images, labels = real_digits()
    x0, g = images * 2 - 1, torch.Generator().manual_seed(0)
    for sigma in (0.0, 0.01, 0.05, 0.1, 0.2, 0.3):
        denoise, _ = _denoiser(run, labels, 0.0)
        gamma = torch.full((len(x0),), _gamma(sigma))
        x_t = gamma.sqrt().view(-1, 1, 1, 1) * x0 + (1 - gamma).sqrt().view(-1, 1, 1, 1) * torch.randn(
            x0.shape, generator=g
        )
        denoise(x_t, gamma)  # a first call, so the scored one starts from latents as in sampling
        report(f"x0 prediction at sigma {sigma:g}", (denoise(x_t, gamma).clamp(-1, 1) + 1) / 2, labels)


def partial(run: str, guidance: float, steps: int = 12) -> None:
    images, labels = real_digits()
    x0, g = images * 2 - 1, torch.Generator().manual_seed(0)
    for sigma0 in (0.3, 0.6, 1.0, 2.0, 4.0, 80.0):
        denoise, _ = _denoiser(run, labels, guidance)
        sigmas = torch.exp(torch.linspace(math.log(sigma0), math.log(0.002), steps)).tolist()
        gammas = [_gamma(s) for s in sigmas]
        x = math.sqrt(gammas[0]) * x0 + math.sqrt(1 - gammas[0]) * torch.randn(x0.shape, generator=g)
        for now, to in zip(gammas, [*gammas[1:], None], strict=True):
            g_now = torch.full((len(x),), now)
            x0_hat = denoise(x, g_now).clamp(-1, 1)
            if to is None:
                x = x0_hat  # the last call's x0 prediction is the sample, as in `rin.sampling.sample`
                break
            x = ddpm_step(x, eps_from_x0(x0_hat, x, g_now), g_now, torch.full((len(x),), to), g)
        report(f"sampled from sigma {sigma0:g}", (x + 1) / 2, labels)


class IntervalGuidance(RINDenoiser):
    """Guidance weight `weight` where sigma(gamma) <= sigma_max, none above (one call per level)."""

    def __init__(self, *args, weight: float, sigma_max: float, **kwargs) -> None:
        super().__init__(*args, guidance=weight, **kwargs)
        self.weight, self.sigma_max = weight, sigma_max

    def __call__(self, x_t: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
        sigma = math.sqrt((1 - gamma[0].item()) / gamma[0].item())  # every row shares the level
        self.guidance = self.weight if sigma <= self.sigma_max else 0.0
        return super().__call__(x_t, gamma)


def _guided_samples(
    run: str, overrides: dict[str, object], settings: list[tuple[float, float]], num: int
) -> None:
    """Score `num` samples of the run's sampler for each (guidance weight, sigma_max) in `settings`."""
    model, config = load_model(run)
    s = dataclasses.replace(config.sampling, **{k: v for k, v in overrides.items() if v is not None})
    labels = torch.arange(num) % 10
    for weight, limit in settings:
        denoise = IntervalGuidance(
            model, config.diffusion.prediction, labels=labels, weight=weight, sigma_max=limit
        )
        g = torch.Generator().manual_seed(1)
        x_T = torch.randn((num, 1, 32, 32), generator=g)
        schedule = get_schedule(s.schedule)
        clip = config.diffusion.input_scale if s.clip_x0 else None
        x = sample(denoise, x_T, schedule, s.steps, s.sampler, g, clip, s.time_difference, grid=s.grid)
        name = f"{s.sampler} {s.steps} {s.grid} td {s.time_difference:g}, w {weight:g} at sigma <= {limit:g}"
        report(name, (x + 1) / 2, labels)


def interval(run: str, sigma_max: float, overrides: dict[str, object], num: int = 500) -> None:
    weight = load_model(run)[1].sampling.guidance
    _guided_samples(run, overrides, [(weight, math.inf), (weight, sigma_max)], num)


def weights(run: str, guidance: list[float], overrides: dict[str, object], num: int = 500) -> None:
    _guided_samples(run, overrides, [(w, math.inf) for w in guidance], num)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=("proxy", "recon", "partial", "interval", "weights"))
    parser.add_argument("run", nargs="?", help="a run or checkpoint directory (recon, partial)")
    parser.add_argument("--guidance", type=float, default=2.0, help="partial: guidance weight (demo: 2)")
    parser.add_argument("--sigma-max", type=float, default=2.0, help="interval: guide only below this")
    parser.add_argument("--weights", type=float, nargs="+", default=[1.0, 1.5, 2.0], help="weights: w to try")
    parser.add_argument("--steps", type=int, help="interval: sampler steps (default: the run's)")
    parser.add_argument("--grid", help="interval: time grid (default: the run's)")
    parser.add_argument("--time-difference", type=float, help="interval: td (default: the run's)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.what != "proxy" and not args.run:
        parser.error(f"{args.what} needs a run directory")
    print("| what | accuracy | Frechet proxy | variety |\n|---|---|---|---|")
    if args.what == "proxy":
        proxy()
    elif args.what == "recon":
        recon(args.run)
    elif args.what == "partial":
        partial(args.run, args.guidance)
    else:
        overrides = {"steps": args.steps, "grid": args.grid, "time_difference": args.time_difference}
        if args.what == "interval":
            interval(args.run, args.sigma_max, overrides)
        else:
            weights(args.run, args.weights, overrides)


if __name__ == "__main__":
    main()
