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
import math
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
from tqdm import tqdm

from rin.checkpoints import find_checkpoint
from rin.configs.experiment import ExperimentConfig
from rin.configs.overrides import config_to_json
from rin.data import ClipSet, ImageSet, load_dataset, load_video_dataset, to_model_range
from rin.diffusion.losses import StepNoise, diffusion_loss, draw_step_noise
from rin.errors import CheckpointError, TrainingError
from rin.model import RIN, count_parameters
from rin.model.attention import softmax_invariant_parameters
from rin.model.precision import bf16_slowdown_warning
from rin.progress import progress_bar
from rin.runtime.distributed import resolve_device
from rin.runtime.metrics_log import MetricsLog
from rin.runtime.run_dir import check_writable_dir
from rin.training.batches import MemoryBatches, StreamedBatches
from rin.training.checkpoint import keep_if_best, prune_checkpoints, save_checkpoint
from rin.training.distributed import (
    World,
    barrier,
    broadcast_flag,
    data_parallel,
    init_world,
    micro_batch_rows,
    micro_batch_size,
    peak_memory_mb,
)
from rin.training.ema import EMA
from rin.training.guards import gradient_norm, nonfinite_term, nonfinite_weight, zero_gradients
from rin.training.optim import build_optimizer, learning_rate, set_learning_rate
from rin.training.preemption import StopRequest
from rin.training.resume import resume_training
from rin.training.sample_grids import write_sample_grid
from rin.training.sharded import save_sharded_checkpoint, shard_model
from rin.training.tensorboard_log import TensorBoardMirror


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


def step_seed(seed: int, step: int) -> int:
    return (seed * 1_000_003 + step * 7_919 + 12_345) % (2**63 - 1)


def train(
    config: ExperimentConfig,
    run_dir: str | Path,
    resume: str | Path | None = None,
    device: torch.device | None = None,
    data: ImageSet | ClipSet | None = None,
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
    world, device = init_world(device or resolve_device())
    if world.is_main:  # before loading data or building the model: a bad directory costs one line
        check_writable_dir(run_dir)
    tc = config.train
    micro = micro_batch_size(tc.batch_size, world, tc.grad_accum)
    streamed = config.data.dataset == "webdataset"  # shards read per rank, not a set in memory
    if not streamed:
        if data is None:
            data = (
                load_video_dataset(config.data, config.model)
                if config.model.is_video
                else load_dataset(config.data, config.model)
            )

    sharded = tc.shard and world.distributed  # FSDP2; one process has nothing to shard
    if sharded and evaluate is not None and tc.eval_every > 0:
        raise TrainingError("train.eval_every (rin train --eval-ref) is not supported with --shard yet")

    torch.manual_seed(tc.seed)
    model = RIN(config.model, tc.activation_checkpointing).to(device)
    ema = EMA(model, tc.ema_decay)
    if sharded:  # shard both copies the same way, so the EMA update is a lerp of local shards
        shard_model(model, world, device)
        shard_model(ema.model, world, device)
    optimizer = build_optimizer(model, tc)  # after sharding: its states are DTensors too
    # attention key biases: true gradient 0, so their rounding noise is zeroed each step (attention.py)
    invariant = softmax_invariant_parameters(model)  # after sharding: the DTensor parameters
    start, saved = 0, dict[str, Any]()  # saved: the checkpoint's `extra` (the data position)
    if resume is not None:
        start, saved = resume_training(resume, run_dir, model, ema, optimizer, config, sharded)
    batches: MemoryBatches | StreamedBatches
    if streamed:
        batches = StreamedBatches(config, world, micro, saved.get("data"))
    else:
        assert data is not None
        batches = MemoryBatches(data, config, world)
    mine = micro_batch_rows(world, 1, 0, tc.batch_size // world.size)  # this rank's rows of a global batch
    # every parameter gets a gradient in every step (the self-conditioning path always runs)
    net: nn.Module = data_parallel(model, device) if world.distributed and not sharded else model
    slow_bf16 = bf16_slowdown_warning(device) if tc.bf16 else None
    if slow_bf16 is not None and world.is_main:
        warnings.warn(slow_bf16, stacklevel=2)
    if tc.compile:
        # static shapes: one graph per (grad mode, prev_latents given or not); weights stay in `model`
        net = torch.compile(net, dynamic=False)  # type: ignore[assignment]

    mirror = None
    if tc.tensorboard and world.is_main:  # resumed: TensorBoard hides what a killed run logged after `start`
        replayed = start + 1 if resume is not None else None
        mirror = TensorBoardMirror(run_dir / "tensorboard", purge_step=replayed)
    log = MetricsLog(run_dir / "metrics.jsonl", mirror) if world.is_main else None
    if log is not None and resume is not None:
        log.drop_after(start)  # the steps after the checkpoint are replayed: each is logged once
    if log is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.json").write_text(config_to_json(config))
        log.write(event="start", step=start, params=count_parameters(model), device=str(device),
                  preset=config.name, world_size=world.size, global_batch=tc.batch_size,
                  grad_accum=tc.grad_accum, micro_batch=micro, sharded=sharded,
                  batch_mapping=f"{tc.batch_size} = {micro} per device x {world.size} processes x "
                                f"{tc.grad_accum} accumulation steps")  # fmt: skip
        log.write(event="data", step=start, **batches.describe())

    end = tc.steps if stop_after is None else min(tc.steps, start + stop_after)
    bar = progress_bar(total=tc.steps, initial=start, disable=not (progress and world.is_main), desc="train",
               unit="step", dynamic_ncols=True)  # fmt: skip
    last_loss, checkpoint, tick, tick_step = math.nan, None, time.perf_counter(), start
    skipped, in_a_row = 0, 0
    with StopRequest() as stop:
        for step in range(start, end):
            torch.manual_seed(step_seed(tc.seed, step))  # t, eps, self-cond mask, dropout, drop-path
            images, labels = batches.batch(step)  # this rank's rows
            x0 = to_model_range(images, config.diffusion.input_scale).to(device)  # (B / W, C, H, W)
            given, x0 = split_context(x0, config.model.context_frames)  # video: given | generated frames
            labels_in = labels.to(device) if config.model.num_classes > 0 else None
            shape = (tc.batch_size, *x0.shape[1:])
            noise = draw_step_noise(shape, config.diffusion, device).select(
                mine.start, mine.stop
            )  # global draws
            lr = learning_rate(step, tc)
            set_learning_rate(optimizer, lr)
            optimizer.zero_grad(set_to_none=True)
            last_loss = _accumulate(net, x0, labels_in, noise, config, world, micro, given)
            zero_gradients(invariant)
            grad_norm = float(gradient_norm(model, tc.grad_clip))
            fault = nonfinite_term(last_loss, grad_norm, model, lr)
            done = step + 1
            if fault is None:
                optimizer.step()
                _check_weights(model, done, lr, checkpoint, run_dir, bar)
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
            bar.set_postfix(loss=f"{last_loss:.4f}", lr=f"{lr:.2e}", refresh=False)  # drawn by update
            bar.update(1)
            if on_step is not None:
                on_step(done, last_loss)
            stopping = broadcast_flag(stop.requested is not None, world, device)
            if log is not None and (done % tc.log_every == 0 or done == end or stopping):
                now = time.perf_counter()
                rate = (done - tick_step) * tc.batch_size / max(now - tick, 1e-9)
                log.write(event="train", step=done, loss=last_loss, lr=lr, grad_norm=grad_norm,
                          images_per_sec=round(rate, 2),
                          images_per_sec_per_rank=round(rate / world.size, 2), skipped_steps=skipped,
                          peak_memory_mb=peak_memory_mb(device))  # fmt: skip
                tick, tick_step = now, done
            sampling_due = tc.sample_every > 0 and done % tc.sample_every == 0 and done < tc.steps
            if (world.is_main or sharded) and sampling_due and not stopping:
                grid = write_sample_grid(config, ema.model, run_dir / "samples" / f"step_{done:08d}.png",
                                         device, save=world.is_main)  # fmt: skip
                if log is not None:
                    log.write(event="samples", step=done, path=str(grid))
            score = None
            if evaluate is not None and tc.eval_every > 0 and done % tc.eval_every == 0 and world.is_main:
                score = evaluate(ema.model, done)
                if log is not None:
                    log.write(event="eval", step=done, score=score)
            if done % tc.checkpoint_every == 0 or done == end or stopping or score is not None:
                data_state = batches.state()  # collective for streamed data: every rank calls it
                extra = {"data": data_state} if data_state is not None else None
                if sharded:  # every rank writes its shards
                    checkpoint = save_sharded_checkpoint(run_dir, done, model, ema.model, optimizer, config,
                                                         world, extra)  # fmt: skip
                elif world.is_main:
                    checkpoint = save_checkpoint(run_dir, done, model, ema.model, optimizer, config, extra)
                if world.is_main and checkpoint is not None:
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
                if log is not None:
                    log.close()
                return TrainResult(
                    model, ema.model, done, run_dir, last_loss, checkpoint, stop.requested or "peer", skipped
                )
    bar.close()
    final_step = max(end, start)
    if (world.is_main or sharded) and final_step == tc.steps and end > start:
        grid = write_sample_grid(
            config, ema.model, run_dir / "samples" / f"step_{final_step:08d}.png", device, world.is_main
        )
        if log is not None:
            log.write(event="samples", step=final_step, path=str(grid))
    if log is not None:
        log.close()
    return TrainResult(model, ema.model, final_step, run_dir, last_loss, checkpoint, None, skipped)


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


def _check_weights(
    model: nn.Module, step: int, lr: float, checkpoint: Path | None, run_dir: Path, bar: tqdm
) -> None:
    """Stop before weights an update made non-finite reach the EMA or a checkpoint."""
    name = nonfinite_weight(model)
    if name is not None:
        bar.close()
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
