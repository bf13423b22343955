"""`train(config, run_dir)`: the whole RIN training loop.

Determinism: every step seeds the global RNG from (seed, step) and draws its batch from a
stream that is a pure function of (seed, step), so a run resumed from a checkpoint takes
exactly the steps an uninterrupted run takes (bit-identical on CPU).

Robustness: SIGTERM/SIGINT stop at the next step boundary with a checkpoint (`preemption`);
a non-finite loss or gradient skips that update (`guards`); checkpoints are atomic, verified on
resume and pruned to the newest `train.keep_checkpoints`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from rin.configs.experiment import ExperimentConfig
from rin.configs.overrides import config_to_json
from rin.data import BatchStream, ImageSet, load_dataset, save_grid, to_model_range
from rin.diffusion.losses import StepNoise, diffusion_loss, draw_step_noise
from rin.errors import CheckpointError, TrainingError
from rin.model import RIN, count_parameters
from rin.model.precision import bf16_slowdown_warning
from rin.sampling.generate import generate
from rin.training.checkpoint import (
    find_checkpoint,
    keep_if_best,
    load_config,
    load_state,
    load_weights,
    prune_checkpoints,
    save_checkpoint,
)
from rin.training.distributed import (
    World,
    barrier,
    broadcast_flag,
    init_world,
    micro_batch_rows,
    micro_batch_size,
    peak_memory_mb,
)
from rin.training.ema import EMA
from rin.training.guards import gradient_norm, nonfinite_term
from rin.training.metrics_log import MetricsLog
from rin.training.optim import build_optimizer, learning_rate, set_learning_rate
from rin.training.preemption import StopRequest


@dataclass
class TrainResult:
    model: RIN
    ema: nn.Module  # the EMA copy of `model`
    step: int
    run_dir: Path
    last_loss: float
    checkpoint: Path | None
    stopped_by: str | None = None  # the signal that stopped the run early (SIGTERM, SIGINT), if any
    skipped_steps: int = 0  # updates skipped for a non-finite loss or gradient, in this call


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
    evaluate: Callable[[nn.Module, int], float] | None = None,
) -> TrainResult:
    """Train (or resume) a RIN as `config` says, writing everything under `run_dir`.

    Args:
        resume: a checkpoint directory, a run directory, or "auto" (this run's newest, if any).
        data: an already loaded data set (otherwise `config.data` is loaded).
        stop_after: stop (with a checkpoint) after this many steps of this call; for tests.
        evaluate: (EMA model, step) -> a score, lower is better (e.g. a Frechet distance); called
            every `train.eval_every` steps on rank 0, logged, and the best checkpoint is kept in
            `checkpoints/best`. The CLI builds it from `rin.evaluation` (training does not import it).
    """
    run_dir = Path(run_dir)
    world, device = init_world(device or default_device())
    tc = config.train
    micro = micro_batch_size(tc.batch_size, world, tc.grad_accum)
    data = data if data is not None else load_dataset(config.data, config.model)
    stream = BatchStream(data, tc.batch_size, tc.seed, config.data.random_flip)  # global batches

    torch.manual_seed(tc.seed)
    model = RIN(config.model).to(device)
    ema = EMA(model, tc.ema_decay)
    optimizer = build_optimizer(model, tc)
    start = 0
    if resume is not None:
        start = _resume(resume, run_dir, model, ema, optimizer, config)
    # every parameter gets a gradient in every step (the self-conditioning path always runs)
    net: nn.Module = DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None,
                                             broadcast_buffers=False)\
        if world.distributed else model  # fmt: skip
    slow_bf16 = bf16_slowdown_warning(device) if tc.bf16 else None
    if slow_bf16 is not None and world.is_main:
        warnings.warn(slow_bf16, stacklevel=2)
    if tc.compile:
        # static shapes: one graph per (grad mode, prev_latents given or not); weights stay in `model`
        net = torch.compile(net, dynamic=False)  # type: ignore[assignment]

    log = MetricsLog(run_dir / "metrics.jsonl") if world.is_main else None
    if log is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.json").write_text(config_to_json(config))
        log.write(event="start", step=start, params=count_parameters(model), device=str(device),
                  preset=config.name, world_size=world.size, global_batch=tc.batch_size,
                  grad_accum=tc.grad_accum, micro_batch=micro)  # fmt: skip
        log.write(event="data", step=start, examples=len(data), skipped=data.skipped,
                  converted=data.converted, skipped_items=data.skipped_items[:100])  # fmt: skip

    end = tc.steps if stop_after is None else min(tc.steps, start + stop_after)
    bar = tqdm(total=tc.steps, initial=start, disable=not (progress and world.is_main), desc="train",
               unit="step", dynamic_ncols=True)  # fmt: skip
    last_loss, checkpoint, tick, tick_step = math.nan, None, time.perf_counter(), start
    skipped, in_a_row = 0, 0
    with StopRequest() as stop:
        for step in range(start, end):
            torch.manual_seed(step_seed(tc.seed, step))  # t, eps, self-cond mask, dropout, drop-path
            images, labels = stream.batch(step)
            x0 = to_model_range(images, config.diffusion.input_scale).to(device)  # (B, C, H, W) global
            labels_in = labels.to(device) if config.model.num_classes > 0 else None
            noise = draw_step_noise(tuple(x0.shape), config.diffusion, device)  # global draws, then sliced
            lr = learning_rate(step, tc)
            set_learning_rate(optimizer, lr)
            optimizer.zero_grad(set_to_none=True)
            last_loss = _accumulate(net, x0, labels_in, noise, config, world, micro)
            grad_norm = float(gradient_norm(model, tc.grad_clip))
            fault = nonfinite_term(last_loss, grad_norm, model)
            done = step + 1
            if fault is None:
                optimizer.step()
                ema.update(model)
                in_a_row = 0
            else:  # skip the update: weights, optimizer moments and EMA stay as they were
                skipped, in_a_row = skipped + 1, in_a_row + 1
                optimizer.zero_grad(set_to_none=True)
                if log is not None:
                    log.write(event="skip", step=done, term=fault, in_a_row=in_a_row)
                if in_a_row >= tc.max_nonfinite_steps:
                    bar.close()
                    last = checkpoint or _newest(run_dir)
                    raise TrainingError(
                        f"step {done}: {fault} is not finite, {in_a_row} steps in a row "
                        f"(train.max_nonfinite_steps); stopped, last good checkpoint: {last or 'none'}"
                    )
            bar.update(1)
            bar.set_postfix(loss=f"{last_loss:.4f}", lr=f"{lr:.2e}")
            if on_step is not None:
                on_step(done, last_loss)
            stopping = broadcast_flag(stop.requested is not None, world, device)
            if log is not None and (done % tc.log_every == 0 or done == end or stopping):
                now = time.perf_counter()
                rate = (done - tick_step) * tc.batch_size / max(now - tick, 1e-9)
                log.write(event="train", step=done, loss=last_loss, lr=lr, images_per_sec=round(rate, 2),
                          images_per_sec_per_rank=round(rate / world.size, 2), skipped_steps=skipped,
                          peak_memory_mb=peak_memory_mb(device))  # fmt: skip
                tick, tick_step = now, done
            sampling_due = tc.sample_every > 0 and done % tc.sample_every == 0 and done < tc.steps
            if world.is_main and sampling_due and not stopping:
                write_sample_grid(config, ema.model, run_dir / "samples" / f"step_{done:08d}.png", device)
            score = None
            if evaluate is not None and tc.eval_every > 0 and done % tc.eval_every == 0 and world.is_main:
                score = evaluate(ema.model, done)
                if log is not None:
                    log.write(event="eval", step=done, score=score)
            if done % tc.checkpoint_every == 0 or done == end or stopping or score is not None:
                if world.is_main:
                    checkpoint = save_checkpoint(run_dir, done, model, ema.model, optimizer, config)
                    if score is not None:
                        keep_if_best(run_dir, checkpoint, score)
                    prune_checkpoints(run_dir, tc.keep_checkpoints)
                barrier(world)
            if stopping:
                if log is not None:
                    log.write(
                        event="stopped",
                        step=done,
                        signal=stop.requested or "peer",
                        checkpoint=str(checkpoint),
                    )
                bar.close()
                return TrainResult(
                    model, ema.model, done, run_dir, last_loss, checkpoint, stop.requested or "peer", skipped
                )
    bar.close()
    final_step = max(end, start)
    if world.is_main and final_step == tc.steps and end > start:
        grid = write_sample_grid(
            config, ema.model, run_dir / "samples" / f"step_{final_step:08d}.png", device
        )
        if log is not None:
            log.write(event="samples", step=final_step, path=str(grid))
    return TrainResult(model, ema.model, final_step, run_dir, last_loss, checkpoint, None, skipped)


def _accumulate(
    net: nn.Module,
    x0: torch.Tensor,
    labels: torch.Tensor | None,
    noise: StepNoise,
    config: ExperimentConfig,
    world: World,
    micro: int,
) -> float:
    """Backward over this rank's micro-batches of the global batch; returns the global mean loss.

    Rank r owns rows [r * B / W, (r + 1) * B / W) of the global batch, cut into grad_accum
    micro-batches; DDP averages the gradients over ranks and each micro-loss is divided by
    grad_accum, so the gradient is that of the mean loss over the global batch.
    """
    accum = config.train.grad_accum
    autocast = torch.autocast(x0.device.type, dtype=torch.bfloat16, enabled=config.train.bf16)
    total = torch.zeros((), device=x0.device)
    for index in range(accum):
        rows = micro_batch_rows(world, accum, index, micro)
        sync = index == accum - 1 or not isinstance(net, DistributedDataParallel)
        context = contextlib.nullcontext() if sync else net.no_sync()  # type: ignore[operator]
        with context:
            with autocast:
                out = diffusion_loss(net, x0[rows], labels[rows] if labels is not None else None,
                                     config.diffusion, noise=noise.select(rows.start, rows.stop))  # fmt: skip
            (out.loss / accum).backward()
        total += out.loss.detach() / accum
    if world.distributed:
        torch.distributed.all_reduce(total, op=torch.distributed.ReduceOp.AVG)
    return float(total)


def _newest(run_dir: Path) -> Path | None:
    try:
        return find_checkpoint(run_dir)
    except CheckpointError:
        return None


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
        # nothing usable yet (a fresh run, or killed before its first checkpoint completed): start
        if not any((run_dir / "checkpoints").glob("step_*")):
            return 0
        resume = run_dir
    checkpoint = find_checkpoint(resume, verify=True)
    saved = load_config(checkpoint).model
    if saved != config.model:
        name = next(
            f.name
            for f in dataclasses.fields(saved)
            if getattr(saved, f.name) != getattr(config.model, f.name)
        )
        raise CheckpointError(
            f"{checkpoint} was trained with model.{name}={getattr(saved, name)!r}, "
            f"this run has model.{name}={getattr(config.model, name)!r}"
        )
    load_weights(model, checkpoint / "model.safetensors")
    load_weights(ema.model, checkpoint / "ema.safetensors")
    state = load_state(checkpoint)
    try:
        optimizer.load_state_dict(state["optimizer"])
    except (ValueError, KeyError) as error:
        raise CheckpointError(f"{checkpoint}: optimizer state does not fit this model: {error}") from None
    torch.set_rng_state(state["torch_rng"])
    return int(state["step"])
