"""The run's metrics log: one JSON object per line, appended and flushed as it goes.

A process killed mid-write can leave a partial last line; a new writer starts on a fresh line and
`read` skips lines that are not valid JSON, so a log survives any number of crashes.
"""

from __future__ import annotations

import json
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
            handle.write(json.dumps(record, sort_keys=True) + "\n")
        if self.mirror is not None:
            self.mirror(record)

    def close(self) -> None:
        """Close the mirror, if it has anything to close; the JSONL file is never held open."""
        close = getattr(self.mirror, "close", None)
        if close is not None:
            close()

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
