"""One-run speed table: machine ceilings, rin and its peers, training and sampling, fp32 and bf16.

Measures in ONE process on the same machine (peak memory in one short child process per model):
fp32/bf16 matmul ceilings, then for each model its parameters, forward GFLOPs per image, the full
training step (rin: self-conditioning pass 1 without gradient, pass 2 forward/backward, optimizer
step; peers: their own step), one sampling step, model-FLOPs utilisation and peak memory; medians
of interleaved repeats after warm-up. Then forward GFLOPs of the 64x64 and 128x128 presets against
ADM-width U-Nets. Peers are optional (`pip install diffusers rin-pytorch`) and skipped if absent.

    MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1099511627776 \\
        python benchmarks/bench.py --json bench.json            # full table (~10 min on 2 cores)
    python benchmarks/bench.py --quick                           # smoke test (< 1 min)
    python benchmarks/bench.py --device cuda --models cifar10 --bf16 only --compile both \
        --batch 256 --sample-batch 256 --repeats 20 --json cuda.json     # one GPU (gpu_check.sh)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import torch
from bench_measure import (
    device_clock,
    interleaved_times,
    matmul_ceiling,
    peak_rss_mb,
    reset_peak_rss,
    round_ratios,
    rss_mb,
)
from bench_subjects import PeerMissing, Subject, build_subject, rin_forward_gflops, unet_forward_gflops

from rin.configs import apply_overrides, get_preset
from rin.model.precision import cpu_has_native_bf16

SAMPLERS = {"DDPM 1000": 1000, "DDIM 100": 100, "DDIM 50": 50}
GFLOPS_ROWS = ((32, "cifar10"), (64, "imagenet64"), (128, "imagenet128"))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models",
        nargs="+",
        default=["cifar10", "lucid-rin", "unet"],
        help="rin presets (PRESET+KEY=VALUE+... adds overrides of its own) and peers (lucid-rin = "
        "RIN-pytorch, unet = diffusers DDPM U-Net)",
    )
    parser.add_argument("--batch", type=int, default=32, help="training batch")
    parser.add_argument("--sample-batch", type=int, default=64, help="sampling batch (batched sampler)")
    parser.add_argument(
        "--bf16",
        choices=["auto", "on", "off", "only"],
        default="auto",
        help="auto: measure bf16 autocast only where the CPU (or any CUDA device) has native bf16 "
        "matmuls; only: bf16 rows without the fp32 ones",
    )
    parser.add_argument(
        "--device", default="cpu", help="cpu (default) or cuda[:N]: where models and data live"
    )
    parser.add_argument(
        "--compile",
        choices=["off", "on", "both"],
        default="off",
        help="torch.compile the networks (both: eager rows first, then compiled ones)",
    )
    parser.add_argument("--compile-backend", default="inductor", help="torch.compile backend (tests: eager)")
    parser.add_argument(
        "--time-limit",
        type=float,
        default=0.0,
        help="seconds: start no new variant (precision x compile) past this; 0 = none",
    )
    parser.add_argument("--no-gflops-table", action="store_true", help="skip the GFLOPs-by-resolution table")
    parser.add_argument("--dry-run", action="store_true", help="check the arguments and print the plan only")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per model before the rounds")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="cpu: process CPU seconds (A/B checks on a busy machine, with --threads 1)",
    )
    parser.add_argument("--quick", action="store_true", help="batch 4, 2 repeats, no memory probes")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory child processes")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="rin config overrides")
    parser.add_argument("--json", help="write everything measured to this JSON file")
    parser.add_argument("--memory-probe", help=argparse.SUPPRESS)  # internal: child process mode
    parser.add_argument("--precision", default="fp32", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.batch, args.sample_batch, args.repeats, args.no_memory = 4, 4, 2, True
    if args.device != "cpu" and args.clock != "wall":
        parser.error(f"--clock {args.clock} measures host CPU seconds; on {args.device} use --clock wall")
    return args


def memory_probe(args: argparse.Namespace) -> None:
    """Child process: peak resident memory of one model's training and sampling steps."""
    subject = build_subject(args.memory_probe, args.batch, args.sample_batch, args.overrides)
    bf16 = args.precision == "bf16"
    # sampling first: freed memory stays in the heap (allocator settings), so the training peak
    # would hide the sampling one; the training peak includes everything before it
    before = rss_mb()
    reset_peak_rss()
    subject.sample_step(bf16)
    sample_peak = peak_rss_mb()
    subject.train_step(bf16)
    subject.train_step(bf16)
    result = {
        "rss_before_mb": round(before, 1),
        "sample_peak_mb": round(sample_peak, 1),
        "train_peak_mb": round(peak_rss_mb(), 1),
    }
    print(json.dumps(result))


def run_memory_probe(name: str, precision: str, args: argparse.Namespace) -> dict | None:
    command = [
        sys.executable,
        __file__,
        "--memory-probe",
        name,
        "--precision",
        precision,
        "--batch",
        str(args.batch),
        "--sample-batch",
        str(args.sample_batch),
        *[f"--set={o}" for o in args.overrides],
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if done.returncode == 0 and lines else None


def markdown(rows: list[dict], keys: list[str]) -> str:
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(row.get(k, "")) for k in keys) + " |" for row in rows]
    return "\n".join(lines)


def variants(precisions: list[str], compile_mode: str) -> list[tuple[str, bool]]:
    """(precision, compiled) in measuring order: every eager variant before any compiled one, so a
    time limit hit while compiling still leaves the eager rows."""
    modes = {"off": [False], "on": [True], "both": [False, True]}[compile_mode]
    return [(p, compiled) for compiled in modes for p in precisions]


def variant_label(precision: str, compiled: bool) -> str:
    return f"{precision} compiled" if compiled else precision


def cuda_peak_memory(subjects: list[Subject], bf16: bool) -> dict[str, tuple[float, float]]:
    """(train, sample) peak allocated MB of each subject on the current CUDA device, in process."""
    peaks = {}
    for s in subjects:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        s.sample_step(bf16)
        torch.cuda.synchronize()
        sample_mb = torch.cuda.max_memory_allocated() / 2**20
        torch.cuda.reset_peak_memory_stats()
        s.train_step(bf16)
        torch.cuda.synchronize()
        peaks[s.name] = (torch.cuda.max_memory_allocated() / 2**20, sample_mb)
    return peaks


def measure_models(
    subjects: list[Subject],
    precisions: list[str],
    ceilings: dict,
    args: argparse.Namespace,
    checkpoint: Callable[[list[dict], dict], None] | None = None,
) -> tuple[list[dict], dict[str, dict[str, list[float]]]]:
    """One row per model and variant, and every round's seconds ("train fp32" -> model -> [s]).

    `checkpoint(rows, timings)` runs after each variant (the JSON is rewritten, so a run stopped
    by a time limit keeps what it measured); `--time-limit` stops before a variant (other than the
    first) that would start past it."""
    rows: list[dict] = []
    timings: dict[str, dict[str, list[float]]] = {}
    flops = {s.name: (s.forward_gflops(), s.train_gflops()) for s in subjects}  # on the eager networks
    start, compiled_yet = time.perf_counter(), False
    cuda = args.device != "cpu"
    for precision, compiled in variants(precisions, args.compile):
        label = variant_label(precision, compiled)
        if args.time_limit and rows and time.perf_counter() - start > args.time_limit:
            print(f"time limit {args.time_limit:g} s reached: {label} not measured", flush=True)
            break
        if compiled and not compiled_yet:
            for s in subjects:
                if s.compile is None:
                    raise RuntimeError(f"{s.name} cannot be compiled")
                s.compile(args.compile_backend)
            compiled_yet = True
        bf16 = precision == "bf16"
        for kind in ("train", "sample"):
            print(f"timing {kind} steps ({label}) ...", flush=True)
            steps = {s.name: partial(getattr(s, f"{kind}_step"), bf16) for s in subjects}
            if compiled:  # the first calls compile (minutes): report them apart from the warm-up
                clock = device_clock("wall", args.device)
                for name, step in steps.items():
                    begin = clock()
                    step()
                    print(f"  {name}: first compiled {kind} step {clock() - begin:.1f} s", flush=True)
            timings[f"{kind} {label}"] = interleaved_times(
                steps, args.warmup, args.repeats, args.clock, args.device
            )
        train = {name: statistics.median(t) for name, t in timings[f"train {label}"].items()}
        sample = {name: statistics.median(t) for name, t in timings[f"sample {label}"].items()}
        peaks = cuda_peak_memory(subjects, bf16) if cuda and not args.no_memory else {}
        for s in subjects:
            fwd, per_train = flops[s.name]
            train_ips = s.train_batch / train[s.name]
            sample_ips = s.sample_batch / sample[s.name]
            ceiling = ceilings[precision]
            row = {
                "model": s.name,
                "precision": precision,
                **({"compiled": compiled} if args.compile != "off" else {}),
                "params_M": round(s.params / 1e6, 2),
                "fwd_GFLOPs_img": round(fwd, 3),
                "train_GFLOPs_img": round(per_train, 3),
                "train_img_s": round(train_ips, 2),
                "train_MFU_%": round(100 * per_train * train_ips / ceiling, 1),
                "sample_img_steps_s": round(sample_ips, 2),
                "sample_MFU_%": round(100 * fwd * sample_ips / ceiling, 1),
            }
            for label, steps in SAMPLERS.items():
                row[f"{label} img/s"] = round(sample_ips / steps, 4)
            if cuda and peaks:
                row["train_peak_MB"], row["sample_peak_MB"] = (round(v, 1) for v in peaks[s.name])
            elif not args.no_memory:
                memory = run_memory_probe(s.key, precision, args)
                row["train_peak_MB"] = memory["train_peak_mb"] if memory else "n/a"
                row["sample_peak_MB"] = memory["sample_peak_mb"] if memory else "n/a"
            rows.append(row)
        if checkpoint is not None:
            checkpoint(rows, timings)
    return rows, timings


def gflops_rows() -> list[dict]:
    """Forward GFLOPs per image of rin presets against U-Nets at 32, 64 and 128 (no timing)."""
    rows = []
    for resolution, preset in GFLOPS_ROWS:
        params, gflops = rin_forward_gflops(preset)
        row: dict = {
            "resolution": resolution,
            "rin preset": preset,
            "rin params_M": round(params / 1e6, 1),
            "rin fwd GFLOPs": round(gflops, 2),
        }
        try:
            name, u_params, u_gflops = unet_forward_gflops(resolution)
        except PeerMissing as error:
            row["U-Net"] = f"skipped: {error}"
        else:
            row.update(
                {
                    "U-Net": name,
                    "U-Net params_M": round(u_params / 1e6, 1),
                    "U-Net fwd GFLOPs": round(u_gflops, 2),
                    "U-Net / rin GFLOPs": round(u_gflops / gflops, 2),
                }
            )
        rows.append(row)
    return rows


def ratios(rows: list[dict], timings: dict[str, dict[str, list[float]]], device: str = "cpu") -> list[str]:
    """The issue's target ratios from this run: of the medians, with the range of the per-round
    ratios (round i of one model against round i of the other) to show how steady they are.
    Where a model has eager and compiled rows, the compiled ones (measured last) are used."""
    get = {(r["model"], r["precision"]): r for r in rows}
    labels = {key: variant_label(key[1], bool(r.get("compiled"))) for key, r in get.items()}
    lines = []
    rin = next((r["model"] for r in rows if r["model"].startswith("rin ")), None)

    def spread(kind: str, fast: str, slow: str) -> str:
        rounds = timings.get(kind, {})
        if fast not in rounds or slow not in rounds:
            return ""
        # seconds of the slow one over the fast one = the img/s ratio, as both use the same batch
        _, low, high = round_ratios(rounds[slow], rounds[fast])
        return f" (per round {low:.2f}-{high:.2f}x)"

    lucid_name, unet_name = "RIN-pytorch (mapped cifar10)", "UNet2DModel (DDPM cifar10)"
    for precision in ("fp32", "bf16"):
        ours = get.get((rin, precision))
        if ours is None or rin is None:
            continue
        lucid = get.get((lucid_name, precision))
        unet = get.get((unet_name, precision))
        label = labels[(rin, precision)]
        if lucid:
            lines.append(
                f"{precision}: {rin} / RIN-pytorch training img/s = "
                f"{ours['train_img_s'] / lucid['train_img_s']:.2f}x"
                f"{spread(f'train {label}', rin, lucid_name)} (target >= 1.5x)"
            )
        if unet:
            lines.append(
                f"{precision}: {rin} / U-Net sampling img/s per step = "
                f"{ours['sample_img_steps_s'] / unet['sample_img_steps_s']:.2f}x"
                f"{spread(f'sample {label}', rin, unet_name)} (target >= 1.5x)"
            )
        if device == "cpu":
            lines.append(f"{precision}: {rin} training MFU = {ours['train_MFU_%']}% (target >= 70% in fp32)")
        else:
            for model, prec in get:
                if prec == precision and model.startswith("rin "):
                    row = get[(model, prec)]
                    lines.append(
                        f"{labels[(model, prec)]} on {device}: {model} training MFU = {row['train_MFU_%']}% "
                        f"({row['train_img_s']} img/s; target >= 35% in bf16)"
                    )
    if (rin, "bf16") in get and (rin, "fp32") in get:
        speedup = get[(rin, "bf16")]["train_img_s"] / get[(rin, "fp32")]["train_img_s"]
        lines.append(f"bf16 / fp32 training img/s of {rin} = {speedup:.2f}x (target >= 1.5x)")
    return lines


def check_models(models: list[str]) -> list[str]:
    """Problems with the model names (rin presets must exist; peers are checked when built)."""
    problems = []
    for name in models:
        if name in ("unet", "lucid-rin"):
            continue
        try:
            preset, *own = name.split("+")  # "mnist+model.conv_kernel_size=0": a preset and its own overrides
            apply_overrides(get_preset(preset), own)
        except Exception as error:  # noqa: BLE001 - reported as one line
            problems.append(f"{name}: {error}")
    return problems


def dry_run(args: argparse.Namespace) -> None:
    """Check what can be checked without measuring; exit 2 on a bad argument."""
    problems = check_models(args.models)
    cuda = args.device != "cpu"
    available = torch.cuda.is_available()
    planned = ["bf16"] if args.bf16 == "only" else ["fp32", "bf16"]
    plan = {
        "device": args.device,
        "cuda_available": available,
        "models": args.models,
        "batch": args.batch,
        "sample_batch": args.sample_batch,
        "bf16": args.bf16,
        "compile": args.compile,
        "compile_backend": args.compile_backend,
        "variants": [variant_label(*v) for v in variants(planned, args.compile)],
        "time_limit_s": args.time_limit,
        "json": args.json,
    }  # fmt: skip
    print("dry run:", json.dumps(plan))
    if cuda and not available:
        print(f"note: {args.device} is not available here (dry run only: a real run would stop)")
    for problem in problems:
        print("error:", problem)
    if problems:
        sys.exit(2)


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    if args.dry_run:
        dry_run(args)
        return
    if args.memory_probe:
        memory_probe(args)
        return
    cuda = args.device != "cpu"
    if cuda and not torch.cuda.is_available():
        sys.exit(f"--device {args.device}: torch {torch.__version__} sees no CUDA device")
    native = torch.cuda.is_bf16_supported() if cuda else cpu_has_native_bf16()
    env = {
        k: os.environ.get(k, "") for k in ("MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_", "OMP_NUM_THREADS")
    }
    machine = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "native_bf16_matmul": native,
        "allocator_env": env,
        "batch": args.batch,
        "sample_batch": args.sample_batch,
        "warmup": args.warmup,
        "repeats": args.repeats,
        "clock": args.clock,
    }
    if cuda:
        machine.update(
            device=args.device,
            device_name=torch.cuda.get_device_name(args.device),
            cuda=torch.version.cuda,
            compile=args.compile,
            compile_backend=args.compile_backend,
        )
    print("machine:", json.dumps(machine))
    if not env["MALLOC_MMAP_MAX_"] and not cuda:
        print(
            "warning: MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1099511627776 not set; timings swing 20-30%"
        )
    precisions = [] if args.bf16 == "only" else ["fp32"]
    if args.bf16 in ("on", "only") or (args.bf16 == "auto" and native):
        precisions.append("bf16")
    elif args.bf16 == "auto":
        print(
            "bf16 skipped: this CPU has no native bf16 matmul (AVX-512 BF16 or AMX), so autocast runs "
            "a fallback ~10x slower than fp32; --bf16 on measures it anyway"
        )
    repeats = 1 if args.quick else 7
    ceilings_all = {
        p: matmul_ceiling(torch.float32 if p == "fp32" else torch.bfloat16, repeats, args.clock, args.device)
        for p in precisions
    }
    ceilings = {p: max(v.values()) for p, v in ceilings_all.items()}
    print("matmul ceilings GFLOP/s:", json.dumps({p: round(v, 1) for p, v in ceilings.items()}), flush=True)
    subjects = []
    for name in args.models:
        try:
            subjects.append(build_subject(name, args.batch, args.sample_batch, args.overrides, args.device))
        except PeerMissing as error:
            print(f"skipped {name}: {error}")
    for s in subjects:
        for note in s.notes:
            print(note)

    def result(rows: list[dict], timings: dict, flops_table: list[dict], summary: list[str]) -> dict:
        return {
            "machine": machine,
            "ceilings_gflops": ceilings_all,
            "ceilings_used": ceilings,
            "models": rows,
            "gflops_by_resolution": flops_table,
            "ratios": summary,
            "seconds_per_round": timings,
        }

    def checkpoint(rows: list[dict], timings: dict) -> None:
        if args.json:
            partial_result = result(rows, timings, [], ratios(rows, timings, args.device))
            Path(args.json).write_text(json.dumps({**partial_result, "complete": False}, indent=2))

    rows, timings = measure_models(subjects, precisions, ceilings, args, checkpoint)
    # the ceiling again after the models: a slow phase of a shared machine during the first
    # measurement would otherwise inflate every MFU; the best of the two is the ceiling
    again = {
        p: max(
            matmul_ceiling(
                torch.float32 if p == "fp32" else torch.bfloat16, repeats, args.clock, args.device
            ).values()
        )
        for p in precisions
    }
    if any(again[p] > ceilings[p] for p in precisions):
        for row in rows:
            scale = ceilings[row["precision"]] / max(again[row["precision"]], ceilings[row["precision"]])
            row["train_MFU_%"] = round(row["train_MFU_%"] * scale, 1)
            row["sample_MFU_%"] = round(row["sample_MFU_%"] * scale, 1)
        ceilings = {p: max(ceilings[p], again[p]) for p in precisions}
        print(
            "matmul ceilings GFLOP/s (best of before/after):",
            json.dumps({p: round(v, 1) for p, v in ceilings.items()}),
        )
    keys = list(rows[0]) if rows else []
    print()
    print(markdown(rows, keys))
    flops_table = [] if args.no_gflops_table else gflops_rows()
    if flops_table:
        print()
        print(markdown(flops_table, list(flops_table[0])))
    print()
    summary = ratios(rows, timings, args.device)
    for line in summary:
        print("- " + line)
    if args.json:
        final = result(rows, timings, flops_table, summary)
        Path(args.json).write_text(json.dumps({**final, "complete": True}, indent=2))


if __name__ == "__main__":
    main()
