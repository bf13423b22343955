"""`train(config, run_dir)`: the whole RIN training loop.

Determinism: every step seeds the global RNG from (seed, step) and draws its batch from a
stream that is a pure function of (seed, step), so a run resumed from a checkpoint takes
exactly the steps an uninterrupted run takes (bit-identical on CPU).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from rin.configs.experiment import ExperimentConfig
from rin.configs.overrides import config_to_json
from rin.data import BatchStream, ImageSet, load_dataset, save_grid, to_model_range
from rin.diffusion.losses import diffusion_loss
from rin.errors import CheckpointError
from rin.model import RIN, count_parameters
from rin.sampling.generate import generate
from rin.training.checkpoint import find_checkpoint, load_config, load_state, load_weights, save_checkpoint
from rin.training.ema import EMA
from rin.training.metrics_log import MetricsLog
from rin.training.optim import build_optimizer, learning_rate, set_learning_rate


@dataclass
class TrainResult:
    model: RIN
    ema: nn.Module  # the EMA copy of `model`
    step: int
    run_dir: Path
    last_loss: float
    checkpoint: Path | None


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def step_seed(seed: int, step: int) -> int:
    return (seed * 1_000_003 + step * 7_919 + 12_345) % (2**63 - 1)


def grid_labels(num: int, num_classes: int) -> torch.Tensor | None:
    """Labels 0, 1, ..., K-1, 0, 1, ... so each grid column shows one class."""
    return torch.arange(num) % num_classes if num_classes > 0 else None


def write_sample_grid(config: ExperimentConfig, ema: nn.Module, path: Path, device: torch.device) -> Path:
    """A PNG grid of EMA samples with the training config's sampler and `train.sample_steps`."""
    sampling = dataclasses.replace(config.sampling, steps=config.train.sample_steps)
    num = config.train.num_samples
    labels = grid_labels(num, config.model.num_classes)
    generator = torch.Generator(device).manual_seed(config.train.seed)
    shape = (config.model.channels, config.model.image_size, config.model.image_size)
    images = generate(ema, shape, num, config.diffusion, sampling, labels, generator, device)
    nrow = (
        config.model.num_classes
        if config.model.num_classes > 0 and num % config.model.num_classes == 0
        else None
    )
    return save_grid(images.cpu(), path, nrow=nrow)


def train(
    config: ExperimentConfig,
    run_dir: str | Path,
    resume: str | Path | None = None,
    device: torch.device | None = None,
    data: ImageSet | None = None,
    progress: bool = True,
    stop_after: int | None = None,
    on_step: Callable[[int, float], None] | None = None,
) -> TrainResult:
    """Train (or resume) a RIN as `config` says, writing everything under `run_dir`.

    Args:
        resume: a checkpoint directory, a run directory, or "auto" (this run's newest, if any).
        data: an already loaded data set (otherwise `config.data` is loaded).
        stop_after: stop (with a checkpoint) after this many steps of this call; for tests.
    """
    run_dir = Path(run_dir)
    device = device or default_device()
    tc = config.train
    data = data if data is not None else load_dataset(config.data, config.model)
    stream = BatchStream(data, tc.batch_size, tc.seed, config.data.random_flip)

    torch.manual_seed(tc.seed)
    model = RIN(config.model).to(device)
    ema = EMA(model, tc.ema_decay)
    optimizer = build_optimizer(model, tc)
    start = 0
    if resume is not None:
        start = _resume(resume, run_dir, model, ema, optimizer, config)

    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(config_to_json(config))
    log = MetricsLog(run_dir / "metrics.jsonl")
    log.write(
        event="start", step=start, params=count_parameters(model), device=str(device), preset=config.name
    )

    end = tc.steps if stop_after is None else min(tc.steps, start + stop_after)
    bar = tqdm(
        total=tc.steps, initial=start, disable=not progress, desc="train", unit="step", dynamic_ncols=True
    )
    last_loss, checkpoint, tick, tick_step = math.nan, None, time.perf_counter(), start
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=tc.bf16)
    for step in range(start, end):
        torch.manual_seed(step_seed(tc.seed, step))  # t, eps, self-cond mask, dropout, drop-path
        images, labels = stream.batch(step)
        x0 = to_model_range(images, config.diffusion.input_scale).to(device)
        labels_in = labels.to(device) if config.model.num_classes > 0 else None
        lr = learning_rate(step, tc)
        set_learning_rate(optimizer, lr)
        with autocast:
            out = diffusion_loss(model, x0, labels_in, config.diffusion)
        optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        if tc.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
        optimizer.step()
        ema.update(model)
        done = step + 1
        last_loss = float(out.loss.detach())
        bar.update(1)
        bar.set_postfix(loss=f"{last_loss:.4f}", lr=f"{lr:.2e}")
        if on_step is not None:
            on_step(done, last_loss)
        if done % tc.log_every == 0 or done == end:
            now = time.perf_counter()
            rate = (done - tick_step) * tc.batch_size / max(now - tick, 1e-9)
            log.write(event="train", step=done, loss=last_loss, lr=lr, images_per_sec=round(rate, 2))
            tick, tick_step = now, done
        if tc.sample_every > 0 and done % tc.sample_every == 0 and done < tc.steps:
            write_sample_grid(config, ema.model, run_dir / "samples" / f"step_{done:08d}.png", device)
        if done % tc.checkpoint_every == 0 or done == end:
            checkpoint = save_checkpoint(run_dir, done, model, ema.model, optimizer, config)
    bar.close()
    final_step = max(end, start)
    if final_step == tc.steps and end > start:
        grid = write_sample_grid(
            config, ema.model, run_dir / "samples" / f"step_{final_step:08d}.png", device
        )
        log.write(event="samples", step=final_step, path=str(grid))
    return TrainResult(model, ema.model, final_step, run_dir, last_loss, checkpoint)


def _resume(
    resume: str | Path,
    run_dir: Path,
    model: RIN,
    ema: EMA,
    optimizer: torch.optim.Optimizer,
    config: ExperimentConfig,
) -> int:
    """Load weights, EMA, optimizer and step from a checkpoint; returns the step to continue from."""
    if str(resume) == "auto":
        if not (run_dir / "checkpoints").is_dir():
            return 0
        resume = run_dir
    checkpoint = find_checkpoint(resume)
    if load_config(checkpoint).model != config.model:
        raise CheckpointError(f"{checkpoint}: its model config differs from this run's (see its config.json)")
    load_weights(model, checkpoint / "model.safetensors")
    load_weights(ema.model, checkpoint / "ema.safetensors")
    state = load_state(checkpoint)
    try:
        optimizer.load_state_dict(state["optimizer"])
    except (ValueError, KeyError) as error:
        raise CheckpointError(f"{checkpoint}: optimizer state does not fit this model: {error}") from None
    torch.set_rng_state(state["torch_rng"])
    return int(state["step"])
