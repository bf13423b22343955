"""What the training loop does around its updates: the metrics log, sample grids, evaluation and
checkpoints.

`after_step` runs the duties after every update in a fixed order: log, sample grid, evaluate,
checkpoint (an evaluated step is always checkpointed, so `checkpoints/best` has one to keep).
Every rank calls it: saving streamed-data positions and sharded checkpoints is collective.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from torch import nn

from rin.configs.experiment import ExperimentConfig
from rin.configs.overrides import config_to_json
from rin.model import count_parameters
from rin.runtime.metrics_log import MetricsLog
from rin.training.checkpoint import keep_if_best, prune_checkpoints, save_checkpoint
from rin.training.distributed import World, barrier, peak_memory_mb
from rin.training.sample_grids import write_sample_grid
from rin.training.sharded import save_sharded_checkpoint
from rin.training.state import StepReport, TrainingRun
from rin.training.tensorboard_log import TensorBoardMirror


def open_log(
    config: ExperimentConfig, run_dir: Path, world: World, resumed: bool, start: int
) -> MetricsLog | None:
    """Rank 0's metrics log (mirrored to TensorBoard if asked); None on the other ranks."""
    if not world.is_main:
        return None
    mirror = None
    if config.train.tensorboard:  # resumed: TensorBoard hides what a killed run logged after `start`
        mirror = TensorBoardMirror(run_dir / "tensorboard", purge_step=start + 1 if resumed else None)
    log = MetricsLog(run_dir / "metrics.jsonl", mirror)
    if resumed:
        log.drop_after(start)  # the steps after the checkpoint are replayed: each is logged once
    return log


def log_start(run: TrainingRun) -> None:
    """Write config.json and the "start" and "data" events (rank 0)."""
    if run.log is None:
        return
    tc, world, micro = run.config.train, run.world, run.micro
    run.run_dir.mkdir(parents=True, exist_ok=True)
    (run.run_dir / "config.json").write_text(config_to_json(run.config))
    run.log.write(event="start", step=run.start, params=count_parameters(run.model), device=str(run.device),
                  preset=run.config.name, world_size=world.size, global_batch=tc.batch_size,
                  grad_accum=tc.grad_accum, micro_batch=micro, sharded=run.sharded,
                  batch_mapping=f"{tc.batch_size} = {micro} per device x {world.size} processes x "
                                f"{tc.grad_accum} accumulation steps")  # fmt: skip
    run.log.write(event="data", step=run.start, **run.batches.describe())


def after_step(
    run: TrainingRun, report: StepReport, stopping: bool, evaluate: Callable[[nn.Module, int], float] | None
) -> None:
    """Log, draw a sample grid, evaluate and checkpoint, each when it is due after `report.step`."""
    tc, done = run.config.train, report.step
    if done % tc.log_every == 0 or done == run.end or stopping:
        _log_progress(run, report)
    sampling_due = tc.sample_every > 0 and done % tc.sample_every == 0 and done < tc.steps
    if (run.world.is_main or run.sharded) and sampling_due and not stopping:
        _sample_grid(run, done)
    score = None
    if evaluate is not None and tc.eval_every > 0 and done % tc.eval_every == 0 and run.world.is_main:
        score = evaluate(run.ema.model, done)
        if run.log is not None:
            run.log.write(event="eval", step=done, score=score)
    if done % tc.checkpoint_every == 0 or done == run.end or stopping or score is not None:
        _checkpoint(run, done, score)


def _log_progress(run: TrainingRun, report: StepReport) -> None:
    """A "train" event: loss, learning rate, gradient norm, throughput since the last one."""
    if run.log is None:
        return
    now = time.perf_counter()
    rate = (report.step - run.tick_step) * run.config.train.batch_size / max(now - run.tick, 1e-9)
    run.log.write(event="train", step=report.step, loss=report.loss, lr=report.lr, grad_norm=report.grad_norm,
                  images_per_sec=round(rate, 2), images_per_sec_per_rank=round(rate / run.world.size, 2),
                  skipped_steps=run.skipped, peak_memory_mb=peak_memory_mb(run.device))  # fmt: skip
    run.tick, run.tick_step = now, report.step


def _sample_grid(run: TrainingRun, step: int) -> None:
    """A grid of EMA samples in samples/; sharded, every rank samples and rank 0 saves."""
    path = run.run_dir / "samples" / f"step_{step:08d}.png"
    grid = write_sample_grid(run.config, run.ema.model, path, run.device, save=run.world.is_main)
    if run.log is not None:
        run.log.write(event="samples", step=step, path=str(grid))


def _checkpoint(run: TrainingRun, step: int, score: float | None) -> None:
    """Save a checkpoint (with the data position), keep it if it scored best, prune old ones."""
    data_state = run.batches.state()  # collective for streamed data: every rank calls it
    extra = {"data": data_state} if data_state is not None else None
    if run.sharded:  # every rank writes its shards
        run.checkpoint = save_sharded_checkpoint(run.run_dir, step, run.model, run.ema.model, run.optimizer,
                                                 run.config, run.world, extra)  # fmt: skip
    elif run.world.is_main:
        run.checkpoint = save_checkpoint(run.run_dir, step, run.model, run.ema.model, run.optimizer,
                                         run.config, extra)  # fmt: skip
    if run.world.is_main and run.checkpoint is not None:
        if score is not None:
            keep_if_best(run.run_dir, run.checkpoint, score)
        prune_checkpoints(run.run_dir, run.config.train.keep_checkpoints)
    barrier(run.world)


def log_stopped(run: TrainingRun, step: int, signal: str) -> None:
    """A "stopped" event naming the signal and the checkpoint to resume from; closes the log."""
    if run.log is not None:
        run.log.write(event="stopped", step=step, signal=signal, checkpoint=str(run.checkpoint))
        run.log.close()


def finish(run: TrainingRun) -> None:
    """After the last step of a run that reached train.steps: a final sample grid; closes the log."""
    final = max(run.end, run.start)
    if (run.world.is_main or run.sharded) and final == run.config.train.steps and run.end > run.start:
        _sample_grid(run, final)
    if run.log is not None:
        run.log.close()
