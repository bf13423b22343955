"""Writing checkpoints: safetensors weights plus a weights-only training-state file, atomically.

The layout is described, and read, in `rin.checkpoints.files`. A checkpoint is first written to
a temporary directory, fsynced, then renamed into place, so a crash leaves either the old set of
checkpoints or the new one, never half a checkpoint. A write that fails (a full disk) removes its
temporary directory and leaves the older checkpoints as they were. Resuming verifies the
checksums and falls back, with a warning, past a corrupt checkpoint.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import save_file
from torch import nn

from rin.checkpoints.files import FILES, FORMAT_VERSION, list_checkpoints, sha256
from rin.checkpoints.files import is_complete as is_complete  # its old home: keeps callers working
from rin.configs.experiment import ExperimentConfig
from rin.configs.overrides import config_to_json
from rin.errors import CheckpointError


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _weights(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}


def save_checkpoint(
    run_dir: Path,
    step: int,
    model: nn.Module,
    ema: nn.Module,
    optimizer: torch.optim.Optimizer,
    config: ExperimentConfig,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write `run_dir/checkpoints/step_XXXXXXXX` atomically and return its path."""
    root = run_dir / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step_{step:08d}"
    tmp = root / f".tmp-step_{step:08d}-{os.getpid()}"
    try:
        _write(tmp, step, model, ema, optimizer, config, extra)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        _fsync_dir(root)
    except (OSError, RuntimeError, SafetensorError) as error:  # e.g. ENOSPC from os, torch or safetensors
        shutil.rmtree(tmp, ignore_errors=True)
        previous = [p.name for p in list_checkpoints(run_dir)]
        kept = f"the previous checkpoint {previous[-1]} is intact" if previous else "no earlier checkpoint"
        reason = write_error_reason(error)
        raise CheckpointError(
            f"could not write checkpoint step {step} under {root}: {reason}; {kept}"
        ) from None
    return final


def write_error_reason(error: BaseException) -> str:
    """One line for a failed checkpoint write.

    torch.save reports a short write (a full disk or quota) as "[enforce fail at
    inline_container.cc:...] . unexpected pos N vs M" on the first try and as ENOSPC only on a
    retry; both are said as the operating system says ENOSPC.
    """
    strerror = getattr(error, "strerror", None)
    if strerror:
        return str(strerror)
    text = str(error).strip()
    if "inline_container" in text and "unexpected pos" in text:
        return os.strerror(errno.ENOSPC)
    return (text.splitlines() or [type(error).__name__])[0]


def _write(
    tmp: Path,
    step: int,
    model: nn.Module,
    ema: nn.Module,
    optimizer: torch.optim.Optimizer,
    config: ExperimentConfig,
    extra: dict[str, Any] | None,
) -> None:
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    metadata = {"format": "rin", "format_version": str(FORMAT_VERSION), "step": str(step)}
    save_file(_weights(model), str(tmp / "model.safetensors"), metadata=metadata)
    save_file(_weights(ema), str(tmp / "ema.safetensors"), metadata=metadata)
    state = {
        "format_version": FORMAT_VERSION,
        "step": step,
        "optimizer": optimizer.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "extra": extra or {},
    }
    torch.save(state, tmp / "state.pt")
    (tmp / "config.json").write_text(config_to_json(config))
    write_manifest(tmp, FILES, step)
    _fsync_dir(tmp)


def write_manifest(tmp: Path, files: Sequence[str], step: int, **extra: Any) -> None:
    """`manifest.json` of the files' sizes and SHA-256 sums, then fsync them all (not the dirs)."""
    manifest = {
        "format": "rin",
        "format_version": FORMAT_VERSION,
        "step": step,
        **extra,
        "files": {
            name: {"size": (tmp / name).stat().st_size, "sha256": sha256(tmp / name)} for name in files
        },
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2))
    for name in (*files, "manifest.json"):
        with (tmp / name).open("rb") as handle:
            os.fsync(handle.fileno())


def prune_checkpoints(run_dir: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` complete checkpoints (keep=0: none) and stale temporaries."""
    root = run_dir / "checkpoints"
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for tmp in root.glob(".tmp-step_*"):
        pid = tmp.name.rsplit("-", 1)[-1]
        if pid != str(os.getpid()):  # a crashed writer's leftovers
            shutil.rmtree(tmp, ignore_errors=True)
            removed.append(tmp)
    if keep > 0:
        for old in list_checkpoints(run_dir)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
            removed.append(old)
    return removed


def keep_if_best(run_dir: Path, checkpoint: Path, score: float) -> bool:
    """Copy `checkpoint` to `checkpoints/best` if `score` (lower is better) beats the kept one."""
    best = run_dir / "checkpoints" / "best"
    record = best / "score.json"
    try:
        previous = float(json.loads(record.read_text())["score"])
    except (OSError, ValueError, KeyError, TypeError):
        previous = float("inf")
    if not score < previous:
        return False
    tmp = run_dir / "checkpoints" / f".tmp-best-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(checkpoint, tmp)
    (tmp / "score.json").write_text(json.dumps({"score": score, "checkpoint": checkpoint.name}))
    old = run_dir / "checkpoints" / f".old-best-{os.getpid()}"
    if best.exists():
        os.replace(best, old)
    os.replace(tmp, best)
    shutil.rmtree(old, ignore_errors=True)
    return True
