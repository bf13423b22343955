"""Training throughput of a preset on 1 and on K processes of one machine (torchrun, gloo on CPU).

Runs `torchrun --nproc-per-node K -m rin train` for each K with a few steps, then reads the
`images_per_sec` (total) and `images_per_sec_per_rank` of the last logged step (the first steps
are warm-up) and the peak memory from each run's metrics.jsonl. Each process gets
`--threads-per-rank` torch threads, so compare K x threads against the cores you have. Quiet
machine, allocator settings of the Makefile:

    MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1099511627776 \
        python benchmarks/ddp_throughput.py --preset cifar10 --data /path/to/cifar10 --batch 8 --steps 6
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def run(preset: str, data: str | None, processes: int, batch: int, steps: int, threads: int, shard: bool,
        out: Path) -> dict:  # fmt: skip
    sets = [f"train.steps={steps}", f"train.batch_size={batch}", "train.log_every=1", "train.num_samples=1",
            "train.sample_steps=1", f"train.checkpoint_every={steps + 1}"]  # fmt: skip
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node"]
    command = [*launcher, str(processes), "-m", "rin", "train", "--preset", preset, "--out", str(out)]
    command += ["--no-progress"]
    command += [arg for s in sets for arg in ("--set", s)] + (["--data", data] if data else [])
    command += ["--shard"] if shard else []
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    subprocess.run(command, env=env, check=True, capture_output=True)
    events = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    last = [e for e in events if e["event"] == "train"][-1]
    return {"processes": processes, "global_batch": batch, "images_per_sec": last["images_per_sec"],
            "images_per_sec_per_rank": last["images_per_sec_per_rank"],
            "peak_memory_mb_rank0": last["peak_memory_mb"]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="cifar10")
    parser.add_argument("--data", help="data path of the preset (CIFAR-10 shards for cifar10)")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch", type=int, default=8, help="global batch (split over the processes)")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--threads-per-rank", type=int, default=1)
    parser.add_argument("--shard", action="store_true", help="FSDP2 instead of DDP")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in args.processes:
            out = Path(tmp) / f"k{k}"
            rows.append(run(args.preset, args.data, k, args.batch, args.steps, args.threads_per_rank,
                            args.shard, out))  # fmt: skip
    print("| processes | global batch | img/s total | img/s per rank | peak MB (rank 0) |")
    print("|---|---|---|---|---|")
    for r in rows:
        cells = [r["processes"], r["global_batch"], r["images_per_sec"], r["images_per_sec_per_rank"],
                 r["peak_memory_mb_rank0"]]  # fmt: skip
        print("| " + " | ".join(str(c) for c in cells) + " |")


if __name__ == "__main__":
    main()
