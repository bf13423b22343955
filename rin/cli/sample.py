"""`rin sample`: images from a checkpoint's EMA weights, as a PNG grid and optionally an .npz.

Video checkpoints: continuations of held-out clips' first k frames, as an animated GIF grid
(true clip beside each sample; given frames blue, generated orange, true continuation green).
"""

from __future__ import annotations

import argparse
import dataclasses
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from rin.cli.common import add_sampling_arguments, resolve_device, sampler_epilog, sampling_from_args
from rin.cli.sources import find_sampling_source, load_sampling_model, source_digest
from rin.configs import ExperimentConfig
from rin.configs.experiment import SamplingConfig
from rin.errors import RinError
from rin.progress import progress_bar

if TYPE_CHECKING:  # imported lazily at run time, as the other heavy modules here
    import numpy as np

    from rin.runtime.distributed import World


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sample", help="sample images from a checkpoint",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=sampler_epilog(),
    )  # fmt: skip
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", help="run directory (newest checkpoint) or checkpoint dir")
    source.add_argument("--model", help="pretrained folder (rin export) or hub id owner/name")
    parser.add_argument(
        "--num-samples", "--num", dest="num", type=int, default=64,
        help="number of images (default 64); under torchrun spell it --num-samples",
    )  # fmt: skip
    add_sampling_arguments(parser)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--guidance", type=float, help="classifier-free guidance w (default: the config's sampling.guidance)"
    )
    parser.add_argument("--labels", nargs="+", type=int, help="class labels, cycled (default 0..K-1 cycled)")
    parser.add_argument("--weights", choices=["ema", "online"], default="ema", help="of a --checkpoint")
    parser.add_argument("--out", help="PNG grid path (default <checkpoint>/samples.png; video: samples.gif)")
    parser.add_argument(
        "--npz",
        help="also write uint8 NHWC images as arr_0 (and labels as arr_1); resumable via FILE.shards/",
    )
    parser.add_argument(
        "--shard-size", type=int, default=1000, help="samples per resumable shard (default 1000)"
    )
    parser.add_argument("--grid-max", type=int, default=100, help="at most this many images in the PNG grid")
    parser.add_argument(
        "--batch-size", type=int, default=256, help="images per sampler batch (does not change the images)"
    )
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model (static shapes)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--no-progress", action="store_true")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rin.runtime.distributed import init_world, shutdown

    if args.num < 1:
        raise RinError(f"--num must be >= 1, got {args.num}")
    source = find_sampling_source(args)  # a checkpoint or a pretrained folder (--model)
    _check_outputs(args, source)  # before loading or sampling
    checkpoint, model, config = load_sampling_model(args, source)
    sampling = _sampling_settings(args, config)
    if config.model.is_video:
        return _sample_video(args, model, config, checkpoint, sampling)
    world, device = init_world(resolve_device(args.device))  # torchrun: one process per device
    if world.distributed and not args.npz:
        raise RinError("distributed sampling (torchrun) writes shards: give --npz FILE")
    labels = _class_labels(args, config.model.num_classes)
    images = _draw_images(args, model, config, sampling, labels, checkpoint, world, device)
    if images is not None:  # None on the ranks other than 0, whose shards rank 0 merged
        _write_images(args, images, labels, config, sampling, checkpoint)
    shutdown(world)
    return 0


def _check_outputs(args: argparse.Namespace, source: Path) -> None:
    """Refuse unwritable output directories before any model is loaded."""
    from rin.runtime.run_dir import check_writable_dir

    for option, path in (("--out", args.out), ("--npz", args.npz)):
        if path:
            check_writable_dir(Path(path).absolute().parent, f"the directory of {option}")
    if not args.out:  # the grid goes into the checkpoint directory (the folder of --model)
        what = "model folder" if args.model else "checkpoint directory"
        check_writable_dir(source, f"{what} (the default place of --out)")


def _sampling_settings(args: argparse.Namespace, config: ExperimentConfig) -> SamplingConfig:
    """The config's sampling settings with the command line's sampler options and --guidance."""
    sampling = sampling_from_args(config.sampling, args)
    if args.guidance is None:
        return sampling
    if args.guidance < 0:
        raise RinError(f"--guidance must be >= 0, got {args.guidance}")
    if args.guidance > 0 and config.model.num_classes == 0:
        raise RinError("--guidance needs a class-conditional model; this one is unconditional")
    return dataclasses.replace(sampling, guidance=args.guidance)


def _class_labels(args: argparse.Namespace, k: int) -> torch.Tensor | None:
    """--num labels cycled from --labels (default 0..k-1); None for an unconditional model."""
    if k == 0:
        if args.labels:
            raise RinError("--labels given, but this model is unconditional")
        return None
    pool = torch.tensor(args.labels) if args.labels else torch.arange(k)
    if pool.min() < 0 or pool.max() >= k:
        raise RinError(f"--labels must lie in [0, {k - 1}] for this model")
    return pool.repeat((args.num + len(pool) - 1) // len(pool))[: args.num]


def _draw_images(
    args: argparse.Namespace,
    model: torch.nn.Module,
    config: ExperimentConfig,
    sampling: SamplingConfig,
    labels: torch.Tensor | None,
    checkpoint: Path,
    world: World,
    device: torch.device,
) -> np.ndarray | None:
    """The --num images, uint8 NHWC, drawn in resumable shards; None on ranks other than 0."""
    from rin.model.precision import bf16_slowdown_warning
    from rin.runtime.distributed import barrier
    from rin.sampling import generate
    from rin.sampling.sample_set import draw_sample_set

    model.to(device)
    net: torch.nn.Module = torch.compile(model, dynamic=False) if args.compile else model  # type: ignore[assignment]
    shape = (config.model.channels, config.model.image_size, config.model.image_size)
    dtype = torch.bfloat16 if args.bf16 else None
    slow_bf16 = bf16_slowdown_warning(device) if args.bf16 else None
    if slow_bf16 is not None:
        warnings.warn(slow_bf16, stacklevel=1)

    def draw(num: int, batch_labels: torch.Tensor | None, generators: list[torch.Generator]) -> torch.Tensor:
        return generate(net, shape, num, config.diffusion, sampling, batch_labels, generators, device, dtype)

    settings = {
        "checkpoint": source_digest(args, checkpoint),  # its content, not its path
        "weights": args.weights,
        "sampling": dataclasses.asdict(sampling),
        "labels": labels.tolist() if labels is not None else None,
        "bf16": args.bf16,
    }
    shard_dir = _shard_dir(args)
    if world.distributed:  # each rank draws every world_size-th shard, then rank 0 merges them
        draw_sample_set(draw, args.num, args.seed, labels, shard_dir, args.shard_size, args.batch_size,
                        device, settings=settings, rank=world.rank, world_size=world.size)  # fmt: skip
        barrier(world)
        if not world.is_main:
            return None
    with progress_bar(total=args.num, desc="sampling", unit="img", disable=args.no_progress) as bar:
        images = draw_sample_set(
            draw, args.num, args.seed, labels, shard_dir, args.shard_size, args.batch_size, device,
            on_batch=bar.update, settings=settings,
        )  # fmt: skip
    assert images is not None  # world_size 1 returns the whole set
    return images


def _shard_dir(args: argparse.Namespace) -> Path | None:
    """FILE.shards/ beside --npz FILE: where the resumable shards go (none without --npz)."""
    if not args.npz:
        return None
    npz = Path(args.npz)
    return npz.with_name(npz.name + ".shards")


def _write_images(
    args: argparse.Namespace,
    images: np.ndarray,
    labels: torch.Tensor | None,
    config: ExperimentConfig,
    sampling: SamplingConfig,
    checkpoint: Path,
) -> None:
    """Write the PNG grid of the first --grid-max images and, with --npz, the whole set."""
    from rin.data import save_grid
    from rin.sampling.sample_set import save_sample_set

    k = config.model.num_classes
    out = Path(args.out) if args.out else checkpoint / "samples.png"
    shown = min(args.num, args.grid_max)
    nrow = len(args.labels) if args.labels else (k if k > 0 and shown % k == 0 else None)
    grid = torch.from_numpy(images[:shown]).permute(0, 3, 1, 2).float() / 255.0
    save_grid(grid, out, nrow=nrow)
    how = f"{sampling.sampler}, {sampling.steps} steps, guidance {sampling.guidance}, seed {args.seed}"
    print(f"wrote {shown} of {args.num} samples ({how}) to {out}")
    if args.npz:
        npz = Path(args.npz)
        save_sample_set(npz, images, labels)
        print(f"wrote {npz} (arr_0: {images.shape} uint8 NHWC); shards in {_shard_dir(args)}")


def _sample_video(
    args: argparse.Namespace,
    model: torch.nn.Module,
    config: ExperimentConfig,
    checkpoint: Path,
    sampling: SamplingConfig,
) -> int:
    """Continue the first `--num` held-out clips of the config's data set; write a GIF grid."""
    from rin.data import load_video_dataset, save_video_grid
    from rin.sampling import generate_continuation

    if args.npz or args.labels or args.guidance:
        raise RinError(
            "--npz, --labels and --guidance are for image models; this checkpoint is a video model"
        )
    device = resolve_device(args.device)
    model.to(device)
    num = min(args.num, args.grid_max)
    held_out = load_video_dataset(dataclasses.replace(config.data, num_clips=num), config.model, "test")
    truth = held_out.clips.float() / 255.0  # (N, F, C, H, W)
    k = config.model.context_frames
    generator = torch.Generator(device).manual_seed(args.seed)
    dtype = torch.bfloat16 if args.bf16 else None
    clips = generate_continuation(model, truth[:, :k], config.model.generated_frames, config.diffusion,
                                  sampling, generator, device, dtype, not args.no_progress).cpu()  # fmt: skip
    pairs = torch.stack([truth, clips], dim=1).flatten(0, 1)  # (2N, F, C, H, W): truth, sample, ...
    out = Path(args.out) if args.out else checkpoint / "samples.gif"
    save_video_grid(pairs, out, k, nrow=2 * min(num, 4), truth=[True, False] * num)
    mse = float((clips[:, k:] - truth[:, k:]).pow(2).mean())
    how = f"{sampling.sampler}, {sampling.steps} steps, seed {args.seed}"
    print(f"wrote {num} held-out clips and their continuations ({how}) to {out}; frame MSE {mse:.4f}")
    return 0
