"""Tests of the metrics log: strict JSON lines that survive torn writes."""

from __future__ import annotations

import json
import math

from rin.runtime.metrics_log import MetricsLog


def _strict(line: str) -> dict:
    """Parse like a strict JSON reader: NaN and Infinity tokens are errors."""

    def refuse(token: str) -> None:
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(line, parse_constant=refuse)


def test_non_finite_numbers_are_written_as_null(tmp_path):
    """NaN and infinite values, also nested, become null so strict JSON readers accept every line."""
    log = MetricsLog(tmp_path / "metrics.jsonl")
    log.write(event="train", step=1, loss=math.nan, lr=math.inf, parts={"a": -math.inf, "b": [1.0, math.nan]})
    record = _strict((tmp_path / "metrics.jsonl").read_text().splitlines()[0])
    assert record["loss"] is None and record["lr"] is None
    assert record["parts"] == {"a": None, "b": [1.0, None]} and record["step"] == 1
