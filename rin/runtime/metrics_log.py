"""The run's metrics log: one JSON object per line, appended and flushed as it goes.

A process killed mid-write can leave a partial last line; a new writer starts on a fresh line and
`read` skips lines that are not valid JSON, so a log survives any number of crashes.

The JSON is strict: a non-finite number (a NaN loss) is written as null, because `NaN` and
`Infinity` tokens are rejected by strict readers (jq, JavaScript, most other languages).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


class MetricsLog:
    def __init__(self, path: Path, mirror: Callable[[dict[str, Any]], None] | None = None) -> None:
        """`mirror` also receives every record (e.g. a TensorBoard writer); the JSONL file stays."""
        self.path = path
        self.mirror = mirror
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and path.stat().st_size > 0:
            with path.open("rb") as handle:
                handle.seek(-1, 2)
                torn = handle.read(1) != b"\n"
            if torn:
                with path.open("a") as handle:
                    handle.write("\n")

    def write(self, **record: Any) -> None:
        record.setdefault("time", round(time.time(), 3))
        with self.path.open("a") as handle:
            handle.write(json.dumps(_finite(record), sort_keys=True, allow_nan=False) + "\n")
        if self.mirror is not None:
            self.mirror(record)

    def close(self) -> None:
        """Close the mirror, if it has anything to close; the JSONL file is never held open."""
        close = getattr(self.mirror, "close", None)
        if close is not None:
            close()

    def drop_after(self, step: int) -> int:
        """Remove the records of steps after `step` (and torn lines); returns how many were removed.

        A resumed run replays the steps after its checkpoint, which a killed run may already have
        logged; without this they would appear twice. The file is rewritten atomically.
        """
        if not self.path.exists():
            return 0
        lines = self.path.read_text().splitlines()
        steps = [_step_of(line) for line in lines]
        kept = [line for line, at in zip(lines, steps, strict=True) if at is not None and at <= step]
        if len(kept) == len(lines):
            return 0
        tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        tmp.write_text("".join(line + "\n" for line in kept))
        os.replace(tmp, self.path)
        return len(lines) - len(kept)

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        records = []
        for line in self.path.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line torn by a crash
        return records


def _finite(value: Any) -> Any:
    """`value` with every non-finite float (also inside dicts and lists) replaced by None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def _step_of(line: str) -> int | None:
    """The step of a log line; -1 for a record without one (kept); None for a torn line."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return None
    step = record.get("step") if isinstance(record, dict) else None
    return step if isinstance(step, int) else -1
