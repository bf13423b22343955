"""Frame-prediction error of a Moving MNIST checkpoint against two trivial baselines.

Samples continuations of held-out clips (test digits, data seed 1; training uses train digits
and seed 0) from the checkpoint's EMA weights and prints, over the generated frames, the mean
squared error in [0, 1] pixels against the true continuation (which the generator knows) of:
  - the sampled continuation,
  - copying the last given frame into every generated frame,
  - blank (all-black) frames, a reminder that a stochastic sample is judged against one future.
Also per generated frame, and writes a small GIF (true clip beside each sample). Usage:

    MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1099511627776 \\
        python benchmarks/moving_mnist_report.py --checkpoint runs/moving-mnist --num 64
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import torch

from rin.checkpoints import find_checkpoint, load_model
from rin.data import load_video_dataset, save_video_grid
from rin.sampling import generate_continuation

REPO_ROOT = Path(__file__).resolve().parents[1]


def frame_mse(prediction: torch.Tensor, truth: torch.Tensor) -> tuple[float, list[float]]:
    """Mean squared error over everything, and per frame, of (N, F, C, H, W) clips."""
    squared = (prediction.float() - truth.float()).pow(2)
    return float(squared.mean()), [round(float(v), 5) for v in squared.mean(dim=(0, 2, 3, 4))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="run directory or checkpoint directory")
    parser.add_argument("--num", type=int, default=64, help="held-out clips")
    parser.add_argument("--steps", type=int, help="sampler steps (default: the config's)")
    parser.add_argument("--time-difference", type=float, help="sampler td (default: the config's)")
    parser.add_argument("--sampler", choices=["ddpm", "ddim"], help="sampler (default: the config's)")
    parser.add_argument("--seed", type=int, default=0, help="sampler seed")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--gif", default=str(REPO_ROOT / "docs" / "moving_mnist_samples.gif"))
    parser.add_argument("--gif-clips", type=int, default=4, help="clips shown in the GIF")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    checkpoint = find_checkpoint(args.checkpoint, verify=True)
    model, config = load_model(checkpoint, verify=False)
    chosen = {"steps": args.steps, "sampler": args.sampler, "time_difference": args.time_difference}
    sampling = dataclasses.replace(config.sampling, **{k: v for k, v in chosen.items() if v is not None})
    held_out = load_video_dataset(dataclasses.replace(config.data, num_clips=args.num), config.model, "test")
    truth = held_out.clips.float() / 255.0  # (N, F, 1, H, W)
    k = config.model.context_frames

    start = time.perf_counter()
    generator = torch.Generator().manual_seed(args.seed)
    clips = torch.cat([
        generate_continuation(model, truth[i : i + args.batch_size, :k], config.model.generated_frames,
                              config.diffusion, sampling, generator)
        for i in range(0, args.num, args.batch_size)
    ])  # fmt: skip
    seconds = time.perf_counter() - start
    assert torch.equal(clips[:, :k], truth[:, :k]), "the given frames must come back unchanged"

    future = truth[:, k:]
    copy_last = truth[:, k - 1 : k].expand_as(future)
    sample_mse, sample_frames = frame_mse(clips[:, k:], future)
    copy_mse, copy_frames = frame_mse(copy_last, future)
    blank_mse, blank_frames = frame_mse(torch.zeros_like(future), future)
    report = {
        "checkpoint": str(checkpoint),
        "held_out_clips": args.num,
        "sampler": f"{sampling.sampler} {sampling.steps} steps, td {sampling.time_difference}, "
        f"seed {args.seed}",
        "mse_sample": round(sample_mse, 5),
        "mse_copy_last_frame": round(copy_mse, 5),
        "mse_blank_frames": round(blank_mse, 5),
        "mse_sample_per_frame": sample_frames,
        "mse_copy_last_per_frame": copy_frames,
        "mse_blank_per_frame": blank_frames,
        "sampling_seconds": round(seconds, 1),
    }
    print(json.dumps(report, indent=1))
    shown = min(args.gif_clips, args.num)
    pairs = torch.stack([truth[:shown], clips[:shown]], dim=1).flatten(0, 1)  # truth, sample, ...
    path = save_video_grid(pairs, args.gif, k, nrow=2 * min(shown, 2), truth=[True, False] * shown)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
