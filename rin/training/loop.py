"""`train(config, run_dir)`: set up, then steps, each followed by its duties (`duties.py`).

Determinism: every step seeds the CPU and device generators from (seed, step) and draws its batch
from a stream that is a pure function of (seed, step), so a run resumed from a checkpoint takes
exactly the steps an uninterrupted run takes (bit-identical on CPU). The caller's generator
states are restored when `train` returns (`rng.py`).

Robustness: SIGTERM/SIGINT stop at the next step boundary with a checkpoint (`preemption`);
a non-finite loss or gradient skips that update (`guards`); checkpoints are atomic, verified on
resume and pruned to the newest `train.keep_checkpoints`.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.distributed.fsdp import FSDPModule
from torch.nn.parallel import DistributedDataParallel

from rin.checkpoints import find_checkpoint
from rin.configs.experiment import ExperimentConfig
from rin.data import ClipSet, ImageSet, load_dataset, load_video_dataset, to_model_range
from rin.diffusion.losses import StepNoise, diffusion_loss, draw_step_noise
from rin.errors import CheckpointError, TrainingError
from rin.model import RIN
from rin.model.attention import softmax_invariant_parameters
from rin.model.precision import bf16_slowdown_warning
from rin.progress import progress_bar
from rin.runtime.distributed import resolve_device
from rin.runtime.run_dir import check_writable_dir
from rin.training.batches import MemoryBatches, StreamedBatches, shard_stream
from rin.training.distributed import (
    World,
    broadcast_flag,
    data_parallel,
    init_world,
    micro_batch_rows,
    micro_batch_size,
)
from rin.training.duties import after_step, finish, log_start, log_stopped, open_log
from rin.training.ema import EMA
from rin.training.guards import gradient_norm, nonfinite_term, nonfinite_weight, zero_gradients
from rin.training.optim import build_optimizer, learning_rate, set_learning_rate
from rin.training.preemption import StopRequest
from rin.training.resume import resume_training
from rin.training.rng import preserved_rng, seed_rng, step_seed
from rin.training.sharded import shard_model
from rin.training.state import StepReport, TrainingRun

__all__ = ["TrainResult", "split_context", "step_seed", "train", "train_step"]

Evaluate = Callable[[nn.Module, int], float]  # (EMA model, step) -> a score, lower is better


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


def train(
    config: ExperimentConfig,
    run_dir: str | Path,
    resume: str | Path | None = None,
    device: torch.device | None = None,
    data: ImageSet | ClipSet | None = None,
    progress: bool = True,
    stop_after: int | None = None,
    on_step: Callable[[int, float], None] | None = None,
    evaluate: Evaluate | None = None,
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
    world, device = init_world(device or resolve_device())
    with preserved_rng(device):  # the steps reseed the global generators; the caller's come back
        run = set_up(config, run_dir, world, device, resume, data, evaluate, stop_after)
        return _run_steps(run, progress, on_step, evaluate)


def set_up(
    config: ExperimentConfig,
    run_dir: Path,
    world: World,
    device: torch.device,
    resume: str | Path | None,
    data: ImageSet | ClipSet | None,
    evaluate: Evaluate | None,
    stop_after: int | None,
) -> TrainingRun:
    """Check, load and build what the steps need, the cheap checks first; logs the start."""
    if world.is_main:  # before loading data or building the model: a bad directory costs one line
        check_writable_dir(run_dir)
    tc = config.train
    micro = micro_batch_size(tc.batch_size, world, tc.grad_accum)
    data = _in_memory_data(config, data)
    stream = shard_stream(config, world) if data is None else None  # streamed: checked here, started below
    sharded = tc.shard and world.distributed  # FSDP2; one process has nothing to shard
    if sharded and evaluate is not None and tc.eval_every > 0:
        raise TrainingError("train.eval_every (rin train --eval-ref) is not supported with --shard yet")
    model, ema, optimizer = _build_modules(config, world, device, sharded)
    # attention key biases: true gradient 0, so their rounding noise is zeroed each step (attention.py)
    invariant = softmax_invariant_parameters(model)  # after sharding: the DTensor parameters
    start, saved = 0, dict[str, Any]()  # saved: the checkpoint's `extra` (the data position)
    if resume is not None:
        start, saved = resume_training(resume, run_dir, model, ema, optimizer, config, sharded)
    batches: MemoryBatches | StreamedBatches
    if data is not None:
        batches = MemoryBatches(data, config, world)
    else:
        assert stream is not None
        batches = StreamedBatches(stream, config, world, micro, saved.get("data"))
    run = TrainingRun(
        config, run_dir, world, device, sharded, micro, model, ema, optimizer, invariant,
        net=_net_for_steps(model, config, world, device, sharded),
        batches=batches,
        rows=micro_batch_rows(world, 1, 0, tc.batch_size // world.size),  # this rank's rows of a global batch
        log=open_log(config, run_dir, world, resume is not None, start),
        start=start,
        end=tc.steps if stop_after is None else min(tc.steps, start + stop_after),
    )  # fmt: skip
    log_start(run)
    return run


def _in_memory_data(config: ExperimentConfig, data: ImageSet | ClipSet | None) -> ImageSet | ClipSet | None:
    """`data`, or `config.data` loaded; None for (video_)webdataset shards, which each rank streams."""
    if config.data.streamed:
        return None
    if data is not None:
        return data
    if config.model.is_video:
        return load_video_dataset(config.data, config.model)
    return load_dataset(config.data, config.model)


def _build_modules(
    config: ExperimentConfig, world: World, device: torch.device, sharded: bool
) -> tuple[RIN, EMA, torch.optim.Optimizer]:
    """The model (its initial weights a function of train.seed), its EMA copy and the optimizer."""
    seed_rng(config.train.seed, device)
    model = RIN(config.model, config.train.activation_checkpointing).to(device)
    ema = EMA(model, config.train.ema_decay)
    if sharded:  # shard both copies the same way, so the EMA update is a lerp of local shards
        shard_model(model, world, device)
        shard_model(ema.model, world, device)
    optimizer = build_optimizer(model, config.train)  # after sharding: its states are DTensors too
    return model, ema, optimizer


def _net_for_steps(
    model: RIN, config: ExperimentConfig, world: World, device: torch.device, sharded: bool
) -> nn.Module:
    """`model` as the steps call it: DDP-wrapped across processes, compiled if asked."""
    # every parameter gets a gradient in every step (the self-conditioning path always runs)
    net: nn.Module = data_parallel(model, device) if world.distributed and not sharded else model
    slow_bf16 = bf16_slowdown_warning(device) if config.train.bf16 else None
    if slow_bf16 is not None and world.is_main:
        warnings.warn(slow_bf16, stacklevel=4)  # points at the caller of train()
    if config.train.compile:
        # static shapes: one graph per (grad mode, prev_latents given or not); weights stay in `model`
        net = torch.compile(net, dynamic=False)  # type: ignore[assignment]
    return net


def _run_steps(
    run: TrainingRun, progress: bool, on_step: Callable[[int, float], None] | None, evaluate: Evaluate | None
) -> TrainResult:
    """Steps start..end, each followed by its duties; a stop request ends the run at a checkpoint."""
    show = progress and run.world.is_main
    with progress_bar(total=run.config.train.steps, initial=run.start, disable=not show, desc="train",
                      unit="step", dynamic_ncols=True) as bar, StopRequest() as stop:  # fmt: skip
        run.tick, run.tick_step = time.perf_counter(), run.start
        for step in range(run.start, run.end):
            report = train_step(run, step)
            # refresh=False: the update below draws the bar once
            bar.set_postfix(loss=f"{report.loss:.4f}", lr=f"{report.lr:.2e}", refresh=False)
            bar.update(1)
            if on_step is not None:
                on_step(report.step, report.loss)
            stopping = broadcast_flag(stop.requested is not None, run.world, run.device)
            after_step(run, report, stopping, evaluate)
            if stopping:
                log_stopped(run, report.step, stop.requested or "peer")
                return _result(run, report.step, stop.requested or "peer")
    finish(run)
    return _result(run, max(run.end, run.start), None)


def _result(run: TrainingRun, step: int, stopped_by: str | None) -> TrainResult:
    return TrainResult(run.model, run.ema.model, step, run.run_dir, run.last_loss, run.checkpoint,
                       stopped_by, run.skipped)  # fmt: skip


def train_step(run: TrainingRun, step: int) -> StepReport:
    """One update from the global batch of `step` (0-based); skipped if a term is not finite."""
    tc = run.config.train
    seed_rng(step_seed(tc.seed, step), run.device)  # t, eps, self-cond mask, dropout, drop-path
    x0, given, labels = _step_batch(run, step)
    shape, rows = (tc.batch_size, *x0.shape[1:]), run.rows
    # drawn for the whole global batch, then this rank's rows: the same noise at any world size
    noise = draw_step_noise(shape, run.config.diffusion, run.device).select(rows.start, rows.stop)
    lr = learning_rate(step, tc)
    set_learning_rate(run.optimizer, lr)
    run.optimizer.zero_grad(set_to_none=True)
    run.last_loss = _accumulate(run.net, x0, labels, noise, run.config, run.world, run.micro, given)
    zero_gradients(run.invariant)
    grad_norm = float(gradient_norm(run.model, tc.grad_clip))
    fault = nonfinite_term(run.last_loss, grad_norm, run.model, lr)
    report = StepReport(step + 1, run.last_loss, lr, grad_norm)
    if fault is None:
        run.optimizer.step()
        _check_weights(run.model, report.step, lr, run.checkpoint, run.run_dir)
        run.ema.update(run.model)
        run.in_a_row = 0
    else:
        _skip_update(run, report, fault)
    return report


def _step_batch(run: TrainingRun, step: int) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """This rank's rows of batch `step` on the device: (x0, given context frames, labels)."""
    images, labels = run.batches.batch(step)
    x0 = to_model_range(images, run.config.diffusion.input_scale).to(run.device)  # (B / W, C, H, W)
    given, x0 = split_context(x0, run.config.model.context_frames)  # video: given | generated frames
    return x0, given, labels.to(run.device) if run.config.model.num_classes > 0 else None


def _skip_update(run: TrainingRun, report: StepReport, fault: str) -> None:
    """Drop the gradients: weights, optimizer moments and EMA stay as they were; stop after
    train.max_nonfinite_steps skips in a row."""
    run.skipped, run.in_a_row = run.skipped + 1, run.in_a_row + 1
    run.optimizer.zero_grad(set_to_none=True)
    if run.log is not None:
        run.log.write(event="skip", step=report.step, term=fault, in_a_row=run.in_a_row)
    if run.in_a_row >= run.config.train.max_nonfinite_steps:
        last = run.checkpoint or _newest(run.run_dir)
        raise TrainingError(
            f"step {report.step}: {fault} is not finite, {run.in_a_row} steps in a row "
            f"(train.max_nonfinite_steps); stopped, last good checkpoint: {last or 'none'}"
        )


def split_context(x: torch.Tensor, context_frames: int) -> tuple[torch.Tensor | None, torch.Tensor]:
    """Images: (None, x). Clips (B, F, C, H, W): (the first k frames or None, the other F-k)."""
    if x.dim() != 5 or context_frames == 0:
        return None, x
    return x[:, :context_frames], x[:, context_frames:]  # (B, k, C, H, W), (B, F-k, C, H, W)


def _accumulate(
    net: nn.Module,
    x0: torch.Tensor,
    labels: torch.Tensor | None,
    noise: StepNoise,
    config: ExperimentConfig,
    world: World,
    micro: int,
    given: torch.Tensor | None = None,
) -> float:
    """Backward over this rank's micro-batches; returns the global mean loss.

    `x0`, `labels` and `noise` are this rank's B / W rows of the global batch, cut here into
    grad_accum micro-batches; DDP (or FSDP) averages the gradients over ranks and each micro-loss
    is divided by grad_accum, so the gradient is that of the mean loss over the global batch.
    """
    accum = config.train.grad_accum
    autocast = torch.autocast(x0.device.type, dtype=torch.bfloat16, enabled=config.train.bf16)
    total = torch.zeros((), device=x0.device)
    for index in range(accum):
        rows = slice(index * micro, (index + 1) * micro)
        sync = index == accum - 1
        if isinstance(net, FSDPModule):  # reduce-scatter only after the last micro-batch
            net.set_requires_gradient_sync(sync)
        context: contextlib.AbstractContextManager = contextlib.nullcontext()
        if isinstance(net, DistributedDataParallel) and not sync:
            context = net.no_sync()  # DDP all-reduces only after the last micro-batch
        with context:
            with autocast:
                out = diffusion_loss(net, x0[rows], labels[rows] if labels is not None else None,
                                     config.diffusion, noise=noise.select(rows.start, rows.stop),
                                     context=given[rows] if given is not None else None)  # fmt: skip
            (out.loss / accum).backward()
        total += out.loss.detach() / accum
    if world.distributed:
        torch.distributed.all_reduce(total, op=torch.distributed.ReduceOp.AVG)
    return float(total)


def _check_weights(model: nn.Module, step: int, lr: float, checkpoint: Path | None, run_dir: Path) -> None:
    """Stop before weights an update made non-finite reach the EMA or a checkpoint."""
    name = nonfinite_weight(model)
    if name is not None:
        last = checkpoint or _newest(run_dir)
        raise TrainingError(
            f"step {step}: the update made {name} non-finite (learning rate {lr:.3g}); "
            f"stopped, last good checkpoint: {last or 'none'}"
        )


def _newest(run_dir: Path) -> Path | None:
    try:
        return find_checkpoint(run_dir)
    except CheckpointError:
        return None
