"""`rin data`: make the WebDataset shards rin trains on from your own download.

rin data cifar10 --archive cifar-10-python.tar.gz --out data/cifar10   # then --preset cifar10 --data ...
rin data folder --src imagenet/train --size 64 --out data/imagenet64  # class subfolders of images
rin data video --src k600/train --out data/k600  # videos or frame folders -> the kinetics600 clips
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rin.progress import progress_bar

VIDEO_PRESET = "kinetics600"  # `rin data video` cuts this preset's clips unless told otherwise


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("data", help="prepare training shards from a download or image folder")
    sub = parser.add_subparsers(dest="data_command", required=True)
    cifar = sub.add_parser("cifar10", help="the official CIFAR-10 python archive -> train/test shards")
    cifar.add_argument("--archive", required=True, help="cifar-10-python.tar.gz as downloaded")
    cifar.add_argument("--shard-size", type=int, default=10_000, help="samples per shard (default 10000)")
    folder = sub.add_parser("folder", help="an image folder of class subfolders -> shuffled shards")
    folder.add_argument("--src", required=True, help="root of CLASS/IMAGE subfolders (ImageNet's train/)")
    folder.add_argument("--size", type=int, required=True, help="output side in pixels (centre crop, resize)")
    folder.add_argument("--channels", type=int, choices=[1, 3], default=3)
    folder.add_argument("--split", default="train", help="shard name prefix (default train)")
    folder.add_argument("--shard-size", type=int, default=5000, help="samples per shard (default 5000)")
    for command in (cifar, folder):
        command.add_argument(
            "--format", choices=["png", "jpg"], default="png", help="png (lossless, default)"
        )
    for command in (cifar, folder, _add_video_parser(sub)):
        command.add_argument("--out", required=True, help="folder for the shards (must hold none yet)")
        command.add_argument("--seed", type=int, default=0, help="shuffling seed (default 0)")
        command.add_argument("--no-progress", action="store_true")
        command.set_defaults(run=run)


def _add_video_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from rin.configs import PRESETS

    video = sub.add_parser(
        "video", help="a folder of videos or frame folders (Kinetics layout) -> shuffled clip shards"
    )
    video.add_argument(
        "--src", required=True, help="root of CLASS/VIDEO (a video file or a folder of frames)"
    )
    video.add_argument(
        "--preset", default=VIDEO_PRESET, choices=list(PRESETS),
        help=f"clips of this preset's frames, size, channels (default {VIDEO_PRESET})",
    )  # fmt: skip
    video.add_argument("--frames", type=int, help="frames per clip (default: the preset's model.frames)")
    video.add_argument(
        "--size", type=int, help="frame side in pixels (default: the preset's model.image_size)"
    )
    video.add_argument("--channels", type=int, choices=[1, 3], help="default: the preset's model.channels")
    video.add_argument("--frame-stride", type=int, default=1, help="take every n-th frame (default 1)")
    video.add_argument("--clips-per-video", type=int, default=1, help="clips cut from each video (default 1)")
    video.add_argument("--clip-starts", choices=["random", "even"], default="random",
                       help="random (seeded by --seed and the video) or evenly spread starts")  # fmt: skip
    video.add_argument("--max-videos", type=int, help="only the first N videos in sorted order")
    video.add_argument("--split", default="train", help="shard name prefix (default train)")
    video.add_argument("--shard-size", type=int, default=1000, help="clips per shard (default 1000)")
    return video


def run(args: argparse.Namespace) -> int:
    from rin.data.prepare import cifar10_to_shards, folder_to_shards

    if args.data_command == "video":
        return _run_video(args)
    out = Path(args.out)
    with progress_bar(desc="writing", unit="img", disable=args.no_progress) as bar:
        if args.data_command == "cifar10":
            shards = cifar10_to_shards(args.archive, out, args.shard_size, args.seed, args.format, bar.update)
            count = {split: len(paths) for split, paths in shards.items()}
            print(f"wrote {count['train']} train and {count['test']} test shards to {out}")
            print(f"train with: rin train --preset cifar10 --data {out}")
            return 0
        paths = folder_to_shards(args.src, out, args.size, args.channels, args.shard_size, args.seed,
                                 args.format, args.split, bar.update)  # fmt: skip
    print(f"wrote {len(paths)} {args.split} shards of {args.size}x{args.size} images to {out}")
    print(
        f"train with: rin train --preset PRESET --data {out} --set data.dataset=webdataset "
        f"(a preset with model.image_size={args.size})"
    )
    return 0


def _run_video(args: argparse.Namespace) -> int:
    from rin.configs import get_preset
    from rin.data.prepare import video_folder_to_shards
    from rin.data.video_folder import ClipSpec
    from rin.errors import RinError

    preset = get_preset(args.preset)
    model = preset.model
    frames = args.frames if args.frames is not None else model.frames
    if args.frames is None and frames == 0:
        raise RinError(f"preset {args.preset} is an image model: pass --frames F (or a video --preset)")
    size = args.size if args.size is not None else model.image_size
    channels = args.channels if args.channels is not None else model.channels
    if args.max_videos is not None and args.max_videos < 1:
        raise RinError(f"--max-videos must be >= 1, got {args.max_videos}")
    spec = ClipSpec(
        frames, size, channels, args.frame_stride, args.clips_per_video, args.clip_starts, args.seed
    )
    out, written = Path(args.out), [0]
    with progress_bar(desc="writing", unit="clip", disable=args.no_progress) as bar:

        def on_written(count: int) -> None:
            written[0] += count
            bar.update(count)

        paths = video_folder_to_shards(args.src, out, spec, args.shard_size, args.split, args.max_videos,
                                       on_written)  # fmt: skip
    print(f"wrote {written[0]} clips of {frames}x{size}x{size}x{channels} (frames x height x width x "
          f"channels, uint8) in {len(paths)} {args.split} shards to {out}")  # fmt: skip
    changes = {"data.dataset": "video_webdataset", "model.frames": frames, "model.image_size": size,
               "model.channels": channels}  # fmt: skip
    current = {"data.dataset": preset.data.dataset, "model.frames": model.frames,
               "model.image_size": model.image_size, "model.channels": model.channels}  # fmt: skip
    sets = "".join(f" --set {key}={value}" for key, value in changes.items() if current[key] != value)
    print(f"train with: rin train --preset {args.preset} --data {out}{sets}")
    return 0
