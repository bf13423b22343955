"""Tests of the prepared GPU check (benchmarks/gpu_check.sh) and the CUDA options it uses, on a CPU.

No GPU here: the script runs in its --dry-run mode (every entry point checks its arguments), the
speed table's variant logic runs on a tiny CPU model with the `eager` compile backend, and the
summary is built from a real tiny CPU speed table and a small quality-per-compute result.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks"
SCRIPT = BENCH / "gpu_check.sh"
sys.path.insert(0, str(BENCH))
import bench  # noqa: E402
import gpu_check_summary  # noqa: E402
from bench_measure import device_clock, matmul_ceiling  # noqa: E402
from bench_subjects import Subject  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), **extra}


def test_script_parses():
    assert subprocess.run(["bash", "-n", str(SCRIPT)], check=False).returncode == 0


def test_dry_run_checks_every_part_on_a_cpu(tmp_path):
    """The whole script in --dry-run on this CPU: python found, each entry point's own --dry-run
    passes, the summary is written; nothing is trained and nothing lands outside $OUT."""
    data = tmp_path / "cifar10"
    data.mkdir()
    out = tmp_path / "out"
    done = subprocess.run(
        ["bash", str(SCRIPT), "--dry-run", "--data", str(data)],
        env=env(OUT=str(out), GPU_CHECK_PYTHON=sys.executable, RIN_CACHE=str(tmp_path / "cache")),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    parts = {
        line.split("\t")[0]: line.split("\t")[1] for line in (out / "parts.tsv").read_text().splitlines()
    }
    assert parts == {
        "python": "0",
        "install": "0",
        "modules": "0",
        "speed-cifar10": "0",
        "speed-imagenet64-repo": "0",
        "qpc-cifar10": "0",
        "summary": "0",
    }
    assert "dry run:" in (out / "speed-cifar10.log").read_text()
    assert '"device": "cuda"' in (out / "qpc-cifar10.log").read_text()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["dry_run"] and summary["speed"] == {} and summary["qpc"] is None
    assert "dry run" in (out / "summary.md").read_text()


def test_dry_run_skips_quality_without_data(tmp_path):
    out = tmp_path / "out"
    done = subprocess.run(
        ["bash", str(SCRIPT), "--dry-run", "--data", str(tmp_path / "missing")],
        env=env(OUT=str(out), GPU_CHECK_PYTHON=sys.executable, GPU_CHECK_SPEED_S="1"),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SKIP quality per compute: no CIFAR-10 shards" in done.stdout
    assert "SKIP speed-cifar10" in done.stdout  # a cap under 10 s skips the part with a line


def test_script_stops_clearly_without_torch(tmp_path):
    done = subprocess.run(
        ["bash", str(SCRIPT)],
        env=env(OUT=str(tmp_path / "out"), GPU_CHECK_PYTHON=str(tmp_path / "no-python")),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "no python with torch and CUDA" in done.stdout


def test_entry_points_reject_bad_arguments():
    bad_preset = subprocess.run(
        [sys.executable, str(BENCH / "bench.py"), "--models", "no-such-preset", "--dry-run"],
        env=env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad_preset.returncode == 2 and "no-such-preset" in bad_preset.stdout
    cpu_clock_on_gpu = subprocess.run(
        [
            sys.executable,
            str(BENCH / "quality_per_compute.py"),
            "--device",
            "cuda",
            "--clock",
            "cpu",
            "--dry-run",
        ],
        env=env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert cpu_clock_on_gpu.returncode == 2 and "--clock cpu" in cpu_clock_on_gpu.stderr


def test_device_clock_and_ceiling_on_cpu():
    assert device_clock("cpu", "cpu") is not device_clock("wall", "cpu")
    with pytest.raises(ValueError, match="--clock cpu"):
        device_clock("cpu", "cuda")
    ceiling = matmul_ceiling(torch.float32, repeats=1, device="cpu")
    assert len(ceiling) == 4 and all(v > 0 for v in ceiling.values())


def tiny_subject() -> tuple[Subject, list[str]]:
    """A two-layer model with the Subject interface; its steps record which network ran."""
    model = nn.Sequential(nn.Linear(8, 8), nn.GELU(), nn.Linear(8, 8))
    holder = {"net": model}
    calls: list[str] = []
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

    def train_step(bf16: bool) -> None:
        calls.append(f"train {type(holder['net']).__name__}")
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = holder["net"](torch.randn(4, 8)).float().pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    @torch.no_grad()
    def sample_step(bf16: bool) -> None:
        calls.append(f"sample {type(holder['net']).__name__}")
        holder["net"](torch.randn(4, 8))

    subject = Subject("tiny", model, train_step, sample_step, lambda b: model(torch.randn(b, 8)), 4, 4)

    def compile_net(backend: str) -> None:
        holder["net"] = torch.compile(holder["net"], backend=backend, dynamic=False)

    subject.compile = compile_net
    return subject, calls


def measure_args(**overrides) -> argparse.Namespace:
    values = dict(
        warmup=1, repeats=2, clock="wall", device="cpu", compile="both", compile_backend="eager",
        time_limit=0.0, no_memory=True,
    )  # fmt: skip
    return argparse.Namespace(**{**values, **overrides})


def test_speed_table_measures_eager_then_compiled_rows():
    subject, calls = tiny_subject()
    saved: list[int] = []
    rows, timings = bench.measure_models(
        [subject], ["bf16"], {"bf16": 100.0}, measure_args(), lambda r, t: saved.append(len(r))
    )
    assert [(r["precision"], r["compiled"]) for r in rows] == [("bf16", False), ("bf16", True)]
    assert set(timings) == {"train bf16", "sample bf16", "train bf16 compiled", "sample bf16 compiled"}
    assert saved == [1, 2]  # the JSON is rewritten after each variant
    assert "train OptimizedModule" in calls and calls.index("train OptimizedModule") > calls.index(
        "train Sequential"
    )
    summary = bench.ratios(
        [{**r, "model": "rin tiny", "train_MFU_%": 40.0} for r in rows], timings, device="cuda"
    )
    assert len(summary) == 1 and summary[0].startswith("bf16 compiled on cuda: rin tiny training MFU = 40.0%")
    assert summary[0].endswith("target >= 35% in bf16)")


def test_speed_table_time_limit_keeps_the_eager_rows():
    subject, _ = tiny_subject()
    rows, _ = bench.measure_models([subject], ["bf16"], {"bf16": 100.0}, measure_args(time_limit=1e-9))
    assert [r["compiled"] for r in rows] == [False]


def test_tiny_speed_table_on_cpu_and_the_summary(tmp_path):
    """bench.py end to end on a tiny preset (--device cpu), then the summary over its JSON and a
    small quality result: tables, verdicts and PNGs."""
    out = tmp_path / "out"
    out.mkdir()
    done = subprocess.run(
        [sys.executable, str(BENCH / "bench.py"), "--device", "cpu", "--models", "tiny", "--bf16", "only",
         "--batch", "2", "--sample-batch", "2", "--warmup", "0", "--repeats", "1", "--no-memory",
         "--no-gflops-table", "--threads", "1", "--json", str(out / "speed-cifar10.json")],
        env=env(), capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    speed = json.loads((out / "speed-cifar10.json").read_text())
    assert speed["complete"] and [r["precision"] for r in speed["models"]] == ["bf16"]
    (out / "parts.tsv").write_text("speed-cifar10\t0\t3\tok\nqpc-cifar10\t124\t270\ttimed out at 270s\n")
    (out / "qpc-cifar10").mkdir()
    point = {"fraction": 0.5, "seconds": 40.0, "steps": 100, "images": 3200, "train_flops": 1e12,
             "frechet": 300.0, "accuracy": 0.2, "variety": 0.9}  # fmt: skip
    floor = {"frechet": 20.0, "accuracy": 0.8, "variety": 1.0}
    models = [{"name": n, "forward_gflops": 0.05, "evals": [point]} for n in ("rin", "unet")]
    results = {"setting": "cifar10", "machine": "test", "num_samples": 10, "floor": floor, "models": models}
    (out / "qpc-cifar10" / "results.json").write_text(json.dumps(results))
    summary = gpu_check_summary.main(["--out", str(out), "--total-seconds", "300", "--total-cap", "460"])
    assert summary["speed"]["cifar10"]["best"]["model"] == "rin tiny"
    assert summary["speed"]["cifar10"]["mfu_target_met"] is False
    assert [m["name"] for m in summary["qpc"]["models"]] == ["rin", "unet"]
    text = (out / "summary.md").read_text()
    assert (
        "| qpc-cifar10 | 124 | 270 | timed out at 270s |" in text
        and "| rin | 50% | 40 | 100 | 300.0 | 20.0% |" in text
    )
    pytest.importorskip("matplotlib")
    assert (out / "speed.png").is_file() and (out / "qpc-cifar10" / "quality_per_compute.png").is_file()
