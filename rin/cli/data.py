"""`rin data`: make the WebDataset shards rin trains on from your own download.

rin data cifar10 --archive cifar-10-python.tar.gz --out data/cifar10   # then --preset cifar10 --data ...
rin data folder --src imagenet/train --size 64 --out data/imagenet64  # class subfolders of images
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rin.progress import progress_bar


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
        command.add_argument("--out", required=True, help="folder for the shards (must hold none yet)")
        command.add_argument("--seed", type=int, default=0, help="shuffling seed (default 0)")
        command.add_argument(
            "--format", choices=["png", "jpg"], default="png", help="png (lossless, default)"
        )
        command.add_argument("--no-progress", action="store_true")
        command.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rin.data.prepare import cifar10_to_shards, folder_to_shards

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
