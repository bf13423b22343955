"""Check an output directory before any work, so a bad `--out` costs one line, not a run.

An existing file, a path under a file, a read-only or immutable file system and a full disk all
surfaced as tracebacks from deep inside the loop (the metrics log, `config.json`); the probe
below meets each of them first: it creates the directory and writes, syncs and removes a small
file in it.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from rin.errors import RinError

_PROBE_BYTES = 4096  # one block: a full disk refuses it even when a new empty file still fits


def check_writable_dir(path: str | Path, what: str = "run directory") -> Path:
    """Create `path` if needed and prove a file can be written there; RinError (one line) if not."""
    path = Path(path)
    blocker = _file_in_the_way(path)
    if blocker is not None:
        where = "is a file" if blocker == path else f"is under {blocker}, which is a file"
        raise RinError(f"{what} {path} {where}, not a directory")
    probe = path / f".rin-write-probe-{os.getpid()}"
    try:
        path.mkdir(parents=True, exist_ok=True)
        with probe.open("wb") as handle:
            handle.write(b"\0" * _PROBE_BYTES)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as error:
        raise RinError(f"{what} {path} is not writable: {error.strerror or error}") from None
    finally:
        with contextlib.suppress(OSError):  # a failed probe may not exist; never mask the error
            probe.unlink(missing_ok=True)
    return path


def _file_in_the_way(path: Path) -> Path | None:
    """`path` or the nearest existing ancestor of it, if that is not a directory."""
    for candidate in (path, *path.parents):
        if candidate.exists() or candidate.is_symlink():
            return None if candidate.is_dir() else candidate
    return None
