"""`rin evaluate`: FID/IS/precision/recall of a checkpoint's samples; `rin evaluate stats`: references.

rin evaluate stats --dataset cifar10 --data ../shared/data/cifar10 --out ref.npz [--extractor ...]
rin evaluate --checkpoint runs/x --ref ref.npz [--num N] [--steps S]    # samples, then scores
rin evaluate --samples samples.npz --ref ref.npz                          # scores an .npz (arr_0)
rin evaluate stats --dataset video-folder --data DIR --frames 16 --extractor i3d --i3d-weights W --out r.npz
rin evaluate stats --dataset video-webdataset --data SHARDS --extractor i3d --i3d-weights W --out r.npz
rin evaluate --samples clips.npz --ref r.npz --extractor i3d --i3d-weights W   # FVD of (N, F, H, W, C) clips
rin evaluate video-proxy --samples clips.npz --truth true.npz --context 5      # Moving MNIST proxies
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from rin.cli.common import add_sampling_arguments, resolve_device, sampling_from_args
from rin.data.clip_shards import ClipShardReader
from rin.data.imageset import ImageSet
from rin.errors import EvaluationError, RinError, first_line

if TYPE_CHECKING:
    from rin.evaluation.reference import ReferenceStats

VIDEO_BATCH_SIZE = 16  # clips per I3D call, however the clips are given: the same batches, the same features


def _extractor_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--extractor",
        default="inception",
        choices=["inception", "cifar10-proxy", "digits", "i3d"],
        help="features: the standard FID Inception (default), a labelled proxy classifier, or i3d (FVD)",
    )
    parser.add_argument("--inception-weights", help="path of pt_inception-2015-12-05-6726825d.pth")
    parser.add_argument(
        "--allow-other-inception-weights", action="store_true",
        help="use --inception-weights whose SHA-256 is not the FID file's (results are marked: not FID)",
    )  # fmt: skip
    parser.add_argument(
        "--resize", choices=["torch", "tf"],
        help="Inception input resize to 299: torch (pytorch-fid's, the default) or tf (TF1's, as "
        "torch-fidelity, the TF FID code and ADM's evaluator); recorded in the statistics",
    )  # fmt: skip
    parser.add_argument("--i3d-weights", help="path of pytorch-i3d's rgb_imagenet.pt (for --extractor i3d)")
    parser.add_argument("--proxy-data", help="CIFAR-10 shards to train the cifar10-proxy on if not cached")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--no-progress", action="store_true")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("evaluate", help="FID / IS / precision / recall of samples")
    parser.add_argument("--checkpoint", help="run or checkpoint directory to sample from")
    parser.add_argument("--samples", help="score this .npz (uint8 NHWC arr_0) instead of sampling")
    parser.add_argument(
        "--ref", help="reference statistics (rin evaluate stats), or an image batch .npz (arr_0, as ADM's)"
    )
    parser.add_argument(
        "--num-samples", "--num", dest="num", type=int, default=50_000, help="samples to draw (default 50000)"
    )
    add_sampling_arguments(parser)
    parser.add_argument("--guidance", type=float, help="classifier-free guidance w (default: the config's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=256, help="images per sampler batch")
    parser.add_argument("--npz", help="also keep the samples here (resumable shards beside it)")
    _extractor_arguments(parser)
    parser.set_defaults(run=run)
    sub = parser.add_subparsers(dest="evaluate_command")
    stats = sub.add_parser("stats", help="compute and cache reference statistics of a data set")
    stats.add_argument(
        "--data", required=True,
        help="CIFAR-10 shard dir/tar, image folder, 'mnist', video folder, clip shards or .npz",
    )  # fmt: skip
    stats.add_argument(
        "--dataset",
        choices=["cifar10", "folder", "mnist", "video-folder", "video-webdataset", "npz"],
        default="cifar10",
        help="video-folder: clips of videos or frame folders; video-webdataset: clip shards of `rin data "
        "video` (a directory, glob, brace pattern or URLs), their clips as written (--frames, --image-size "
        "and --channels do not apply); npz: uint8 arr_0 (N, [F,] H, W, C)",
    )
    stats.add_argument(
        "--split", default="train",
        help="train (default; as the paper's FID) or test; for clip shards, a directory's SPLIT-*.tar",
    )  # fmt: skip
    stats.add_argument(
        "--image-size", type=int, default=32, help="folder images and video frames are resized to this"
    )
    stats.add_argument("--channels", type=int, default=3, choices=[1, 3])
    stats.add_argument("--frames", type=int, default=16, help="video-folder: frames per clip (FVD: 16)")
    stats.add_argument("--frame-stride", type=int, default=1, help="video-folder: take every n-th frame")
    stats.add_argument("--clips-per-video", type=int, default=1)
    stats.add_argument("--clip-starts", choices=["random", "even"], default="random")
    stats.add_argument("--max-videos", type=int, help="video-folder: read at most this many videos")
    stats.add_argument("--max-clips", type=int, help="video-webdataset: the first N clips, in shard order")
    stats.add_argument("--seed", type=int, default=0, help="video-folder: seed of the random clip starts")
    stats.add_argument("--out", required=True, help="output .npz")
    _extractor_arguments(stats)
    stats.set_defaults(run=run_stats)
    proxy = sub.add_parser("video-proxy", help="frame-prediction proxies of clips against the true future")
    proxy.add_argument("--samples", required=True, help="generated clips: .npz, uint8 arr_0 (N, F, H, W, C)")
    proxy.add_argument("--truth", required=True, help="the true clips, same layout and order")
    proxy.add_argument(
        "--context", type=int, required=True, help="conditioning frames at the start of each clip"
    )
    proxy.add_argument("--digits", action="store_true", help="add the per-frame digit-classifier distance")
    proxy.set_defaults(run=run_video_proxy)


def _load_images(args: argparse.Namespace) -> ImageSet:
    from rin.data import load_cifar10_shards, load_image_folder, load_mnist

    if args.dataset == "mnist":
        return load_mnist(args.split)
    if args.dataset == "cifar10":
        return load_cifar10_shards(args.data, split=args.split)
    return load_image_folder(args.data, args.image_size, args.channels)


def _clip_shards(args: argparse.Namespace) -> tuple[ClipShardReader, str]:
    """The clips of `rin data video`'s shards, streamed in batches, and a description of them."""
    if args.max_clips is not None and args.max_clips < 1:
        raise RinError(f"--max-clips must be at least 1, got {args.max_clips}")
    spec = args.data
    if args.split != "train" and Path(spec).expanduser().is_dir():
        # `rin data video --split test` writes test-*.tar beside train-*.tar; a directory alone
        # names the train-*.tar ones (as rin train reads it), so a held-out split is asked for by name
        spec = str(Path(spec).expanduser() / f"{args.split}-*.tar")
    reader = ClipShardReader(spec, VIDEO_BATCH_SIZE, args.max_clips)
    limit = f", first {args.max_clips} clips" if args.max_clips else ""
    return reader, f"video-webdataset {spec} ({len(reader.shards)} shards{limit})"


def _load_real(
    args: argparse.Namespace,
) -> tuple[np.ndarray | torch.Tensor | ClipShardReader, str]:
    """uint8 images (N, C, H, W) or clips (N, F, C, H, W) of the reference set, and a description."""
    if args.dataset == "npz":
        array = _read_samples(Path(args.data))
        return _channels_first(
            array
        ), f"npz {args.data} ({len(array)} {'clips' if array.ndim == 5 else 'images'})"
    if args.dataset == "video-webdataset":
        return _clip_shards(args)
    if args.dataset == "video-folder":
        from rin.data.video_folder import load_video_clips

        if args.max_videos is not None and args.max_videos < 1:
            raise RinError(f"--max-videos must be at least 1, got {args.max_videos}")

        clips = load_video_clips(
            args.data, args.frames, args.image_size, args.channels, args.frame_stride,
            args.clips_per_video, args.clip_starts, args.seed, args.max_videos,
        )  # fmt: skip
        if clips.skipped:
            print(f"skipped {clips.skipped} unreadable or short videos (first: {clips.skipped_items[0]})")
        settings = (
            f"{args.frames} frames, stride {args.frame_stride}, {args.clip_starts} starts, seed {args.seed}"
        )
        return clips.clips, f"video-folder {args.data} ({len(clips)} clips; {settings})"
    data = _load_images(args)
    return data.images, f"{args.dataset} {args.split} {args.data} ({len(data)} images)"


def run_stats(args: argparse.Namespace) -> int:
    from rin.evaluation.extractors import get_extractor
    from rin.evaluation.reference import compute_reference, save_reference

    device = resolve_device(args.device)
    extractor = get_extractor(args.extractor, args.inception_weights, args.proxy_data,
                              device, not args.no_progress, args.i3d_weights,
                              args.allow_other_inception_weights, args.resize)  # fmt: skip
    real, source = _load_real(args)
    clips = isinstance(real, ClipShardReader) or real.ndim == 5  # shards are read lazily: no ndim yet
    if clips != extractor.video:
        raise RinError(f"--extractor {args.extractor} does not read {'clips' if clips else 'images'}")
    try:
        stats = compute_reference(
            real, extractor.name, lambda batch: extractor.features(batch)[0], source, extractor.weights_id,
            batch_size=VIDEO_BATCH_SIZE if extractor.video else 500, resize=extractor.resize,
        )  # fmt: skip
    except ValueError as error:  # e.g. a single clip or image: no covariance; one line, not a traceback
        raise EvaluationError(f"no reference statistics of {source}: {first_line(error)}") from None
    if isinstance(real, ClipShardReader) and real.skipped:
        print(f"skipped {len(real.skipped)} unreadable clips (first: {real.skipped[0]})")
    save_reference(args.out, stats)
    resize = f", --resize {extractor.resize}" if extractor.resize else ""
    what = "clips" if extractor.video else "images"
    print(f"wrote {args.out}: {extractor.name} statistics of {stats.num_images} {stats.resolution} {what} "
          f"({source}{resize})")  # fmt: skip
    return 0


def run(args: argparse.Namespace) -> int:
    if getattr(args, "evaluate_command", None) == "stats":  # pragma: no cover - dispatched by argparse
        return run_stats(args)
    if getattr(args, "evaluate_command", None) == "video-proxy":  # pragma: no cover - as above
        return run_video_proxy(args)
    if args.ref is None:
        raise RinError("rin evaluate needs --ref FILE.npz (make one with `rin evaluate stats`)")
    if (args.checkpoint is None) == (args.samples is None):
        raise RinError("give exactly one of --checkpoint (to sample) or --samples FILE.npz")
    from rin.evaluation.extractors import get_extractor
    from rin.evaluation.image_batch_reference import reference_for
    from rin.evaluation.scoring import score_samples

    device = resolve_device(args.device)
    extractor = get_extractor(
        args.extractor,
        args.inception_weights,
        args.proxy_data,
        device,
        not args.no_progress,
        args.i3d_weights,
        args.allow_other_inception_weights,
        args.resize,
    )
    if extractor.video and args.checkpoint is not None:
        raise RinError(
            "--extractor i3d scores clips: save a video model's samples as .npz and pass --samples"
        )
    reference = reference_for(args.ref, extractor)  # rin stats, or an image batch .npz (ADM's)
    described: dict[str, object] = {}
    if args.samples is not None:
        images = _read_samples(Path(args.samples))
        described["samples"] = args.samples
    else:
        images, described = _draw(args, device, reference)
    result = score_samples(_channels_first(images), reference, extractor)
    result.update(described)
    _print(result)
    if "run_dir" in described:
        from rin.runtime.metrics_log import MetricsLog

        log = MetricsLog(Path(str(described["run_dir"])) / "metrics.jsonl")
        log.write(event="eval", **{k: v for k, v in result.items() if k != "run_dir"})
    return 0


def _read_samples(path: Path) -> np.ndarray:
    """uint8 arr_0 of an .npz: images (N, H, W, C) or clips (N, F, H, W, C), C in {1, 3}."""
    try:
        with np.load(path, allow_pickle=False) as data:
            images = data["arr_0"]
    except (OSError, ValueError, KeyError) as error:
        raise RinError(f"{path} is not an .npz with uint8 NHWC images under arr_0 ({error})") from None
    if images.dtype != np.uint8 or images.ndim not in (4, 5) or images.shape[-1] not in (1, 3):
        raise RinError(
            f"{path}: arr_0 must be uint8 (N, H, W, C) or (N, F, H, W, C), got {images.dtype} {images.shape}"
        )
    return images


def _channels_first(array: np.ndarray) -> np.ndarray:
    """(N, H, W, C) -> (N, C, H, W); clips (N, F, H, W, C) -> (N, F, C, H, W), as a view.

    No copy: the extractors copy each batch into a contiguous tensor, so the set is held once
    (a contiguous copy doubled it: 2 x 9.8 GB for 50k images of 256 px).
    """
    order = (0, 3, 1, 2) if array.ndim == 4 else (0, 1, 4, 2, 3)
    return array.transpose(order)


def run_video_proxy(args: argparse.Namespace) -> int:
    """Frame-prediction MSE/SSIM (and the copy-last baseline) of generated clips against the truth."""
    from rin.evaluation.video_proxy import evaluate_frame_prediction

    generated, truth = _read_samples(Path(args.samples)), _read_samples(Path(args.truth))
    if generated.ndim != 5 or generated.shape != truth.shape:
        raise RinError(
            f"--samples {generated.shape} and --truth {truth.shape} must be clips (N, F, H, W, C) alike"
        )
    classifier = None
    if args.digits:
        from rin.evaluation.networks.digits import load_or_train_digit_classifier

        classifier = load_or_train_digit_classifier()
    try:
        result = evaluate_frame_prediction(
            _channels_first(generated), _channels_first(truth), args.context, classifier
        )
    except ValueError as error:
        raise RinError(str(error)) from None
    print(f"proxy MSE {result['proxy_mse']:.5f} (copy-last baseline {result['proxy_copy_last_mse']:.5f})")
    print(f"proxy SSIM {result['proxy_ssim']:.4f} (copy-last baseline {result['proxy_copy_last_ssim']:.4f})")
    if classifier is not None:
        print(f"{result['proxy_digit_frame_label']}: {result['proxy_digit_frame_frechet']:.4f}")
    print(json.dumps(result, sort_keys=True))
    return 0


def _draw(
    args: argparse.Namespace, device: torch.device, reference: ReferenceStats
) -> tuple[np.ndarray, dict[str, object]]:
    from rin.checkpoints import find_checkpoint, load_config, load_model, load_state, manifest_digest
    from rin.sampling import generate
    from rin.sampling.sample_set import draw_sample_set, save_sample_set

    checkpoint = find_checkpoint(args.checkpoint, verify=True)
    config = load_config(checkpoint)  # checked before any weights are loaded or samples drawn
    if args.guidance and config.model.num_classes == 0:  # as rin sample checks it
        raise RinError("--guidance needs a class-conditional model; this one is unconditional")
    size = config.model.image_size
    reference.check_resolution(size, size, f"samples of {checkpoint}")  # before drawing them
    model, config = load_model(checkpoint, verify=False)  # EMA weights, full or sharded
    sampling = sampling_from_args(config.sampling, args)
    if args.guidance is not None:
        sampling = dataclasses.replace(sampling, guidance=args.guidance)
    model.to(device)
    k = config.model.num_classes
    # balanced classes: sample i gets label i mod K (the official sampler draws them uniformly)
    labels = torch.arange(args.num) % k if k > 0 else None
    shape = (config.model.channels, config.model.image_size, config.model.image_size)

    def draw(num: int, batch_labels: torch.Tensor | None, generators: list[torch.Generator]) -> torch.Tensor:
        return generate(model, shape, num, config.diffusion, sampling, batch_labels, generators, device)

    npz = Path(args.npz) if args.npz else None
    settings = {
        "checkpoint": manifest_digest(checkpoint),  # its content, not its path
        "sampling": dataclasses.asdict(sampling),
        "balanced": True,
    }
    from rin.progress import progress_bar

    with progress_bar(total=args.num, desc="sampling", unit="img", disable=args.no_progress) as bar:
        images = draw_sample_set(
            draw, args.num, args.seed, labels, npz.with_name(npz.name + ".shards") if npz else None,
            batch_size=args.batch_size, device=device, on_batch=bar.update, settings=settings,
        )  # fmt: skip
    assert images is not None  # one process draws the whole set
    if npz is not None:
        save_sample_set(npz, images, labels)
    run_dir = checkpoint.parent.parent if checkpoint.parent.name == "checkpoints" else None
    described: dict[str, object] = {
        "checkpoint": str(checkpoint),
        "step": int(load_state(checkpoint)["step"]),
        "sampler": sampling.sampler,
        "sampling_steps": sampling.steps,
        "grid": sampling.grid,
        "guidance": sampling.guidance,
        "seed": args.seed,
    }
    if run_dir is not None:
        described["run_dir"] = str(run_dir)
    return images, described


def _print(result: dict[str, object]) -> None:
    shown = {k: v for k, v in result.items() if k != "run_dir"}
    name = str(result["metric"])
    resize = f" (--resize {result['resize']})" if "resize" in result else ""
    print(f"{name}: {result['frechet']:.4f}{resize}")
    if "inception_score" in result:
        print(f"Inception Score: {result['inception_score']:.3f} +- {result['inception_score_std']:.3f}")
    if "kid" in result:
        print(f"KID: {result['kid']:.5f} +- {result['kid_std']:.5f} "
              f"({result['kid_subsets']} subsets of {result['kid_subset_size']})")  # fmt: skip
    print(f"precision {result['precision']:.4f}  recall {result['recall']:.4f}")
    print(json.dumps(shown, sort_keys=True))
