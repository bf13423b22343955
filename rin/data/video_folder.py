"""Clips from a folder of videos (Kinetics-like): video files (PyAV) and/or folders of frame images.

Layout, as the image folder: `root/CLASS/VIDEO` gives labels from the sorted class names;
videos directly under a root without class subfolders form one class. A VIDEO is a file with a
suffix in VIDEO_SUFFIXES (decoded with PyAV, the optional `video` extra) or a folder holding
frame images directly (read with Pillow in natural name order: 2.png before 10.png).

Each video gives `clips_per_video` clips of `clip_length` frames taken every `frame_stride`
frames. Starts are "random" (uniform over the valid starts, from a generator seeded by
(seed, video index): the same clips whatever the order of failures) or "even" (spread evenly
from the first frame to the last valid start). Frames are centre-cropped to a square and resized
(bicubic) to `image_size`, as the image folder does. A video that cannot be decoded, or has
fewer frames than one clip needs, is skipped with a warning and counted; if none is usable the
loader raises DataError. `load_video_clips` holds the clips in memory as uint8 (clips of 16x64x64
RGB take 196 KB each), so pass `max_videos`, or, for a Kinetics-size set, write clip shards one
video at a time (`rin data video`, `rin.data.prepare`) and stream them (`rin.data.clip_shards`).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image

from rin.data.folder import IMAGE_SUFFIXES
from rin.errors import DataError

__all__ = [
    "VIDEO_SUFFIXES",
    "ClipSpec",
    "VideoClipSet",
    "find_videos",
    "iter_video_clips",
    "load_video_clips",
    "video_entries",
]

VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".webm", ".mkv", ".mov", ".m4v", ".gif"})
ClipStarts = Literal["random", "even"]


@dataclass
class VideoClipSet:
    """Clips, their class labels and where each came from, all in memory.

    Field names follow the video branch's `ClipSet` (clips, labels, class_names, skipped,
    skipped_items), so one can replace the other once both are merged.
    """

    clips: torch.Tensor  # uint8 (N, F, C, H, W), C in {1, 3}
    labels: torch.Tensor  # int64 (N,)
    class_names: list[str]
    sources: list[str]  # "path@start" for each clip
    skipped: int = 0  # videos dropped (unreadable or too short), each with a warning
    skipped_items: list[str] = field(default_factory=list)  # "path: reason", one per skip

    def __len__(self) -> int:
        return int(self.clips.shape[0])


def _natural_key(path: Path) -> list[int | str]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def _frame_files(folder: Path) -> list[Path]:
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    return sorted((p for p in files if not p.name.startswith(".")), key=_natural_key)


def _is_video(path: Path) -> bool:
    if path.name.startswith("."):
        return False
    if path.is_file():
        return path.suffix.lower() in VIDEO_SUFFIXES
    return path.is_dir() and bool(_frame_files(path))


def find_videos(root: str | Path) -> tuple[list[str], list[list[Path]]]:
    """(class names, the videos of each class), sorted; loose videos only if there are no classes."""
    base = Path(root).expanduser()
    if not base.is_dir():
        raise DataError(f"video folder {root} does not exist or is not a directory: pass --data DIR")
    children = sorted(base.iterdir())
    loose = [p for p in children if _is_video(p)]
    names: list[str] = []
    videos: list[list[Path]] = []
    for folder in (p for p in children if p.is_dir() and not p.name.startswith(".") and p not in loose):
        members = sorted((p for p in folder.iterdir() if _is_video(p)), key=_natural_key)
        if members:
            names.append(folder.name)
            videos.append(members)
    if not names and loose:
        return [base.resolve().name or "videos"], [loose]
    if names and loose:
        warnings.warn(
            f"ignoring {len(loose)} videos directly under {root}: it has class folders", stacklevel=2
        )
    return names, videos


def _square(image: Image.Image, size: int, mode: str) -> np.ndarray:
    """Centre crop to a square, bicubic resize to size x size, as uint8 (size, size, C)."""
    image = image.convert(mode)
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    image = image.crop((left, top, left + side, top + side))
    if side != size:
        image = image.resize((size, size), Image.Resampling.BICUBIC)
    pixels = np.asarray(image, dtype=np.uint8)
    return pixels[..., None] if pixels.ndim == 2 else pixels  # (size, size, C)


def _decode_file(path: Path, size: int, mode: str) -> list[np.ndarray]:
    """Every frame of a video file (first video stream), cropped and resized; raises if unreadable."""
    import av  # the optional `video` extra; its absence is reported before any file is read

    frames = []
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError("no video stream")
        for frame in container.decode(video=0):
            frames.append(_square(frame.to_image(), size, mode))
    if not frames:
        raise ValueError("no frames could be decoded")
    return frames


def _read_frame(path: Path, size: int, mode: str) -> np.ndarray:
    with Image.open(path) as image:
        image.load()  # decode now, so a truncated frame fails here
        return _square(image, size, mode)


def _clip_starts(count: int, span: int, clips: int, mode: ClipStarts, rng: np.random.Generator) -> list[int]:
    """`clips` start frames of clips spanning `span` frames in a video of `count` frames."""
    last = count - span  # the last valid start, >= 0 here
    if mode == "random":
        return [int(s) for s in rng.integers(0, last + 1, size=clips)]
    return [int(round(s)) for s in np.linspace(0, last, clips)]


@dataclass(frozen=True)
class ClipSpec:
    """How clips are cut from each video: the settings `load_video_clips` and `rin data video` share."""

    clip_length: int  # F, frames per clip
    image_size: int  # side of the square frames, in pixels
    channels: int = 3  # 1 (grey) or 3 (RGB)
    frame_stride: int = 1  # frames between two frames of a clip
    clips_per_video: int = 1
    clip_starts: ClipStarts = "random"
    seed: int = 0  # with the video's index, seeds its random starts

    def __post_init__(self) -> None:
        sizes = (self.clip_length, self.frame_stride, self.clips_per_video, self.image_size)
        if min(sizes) < 1:
            raise DataError(
                "clip length, frame stride, clips per video and image size must be positive, got "
                + ", ".join(str(n) for n in sizes)
            )
        if self.channels not in (1, 3):
            raise DataError(f"channels must be 1 (grayscale) or 3 (RGB), got {self.channels}")
        if self.clip_starts not in ("random", "even"):
            raise DataError(f"clip starts must be random or even, got {self.clip_starts!r}")

    @property
    def span(self) -> int:
        """Frames of the video one clip covers."""
        return (self.clip_length - 1) * self.frame_stride + 1


def video_entries(
    root: str | Path, max_videos: int | None = None
) -> tuple[list[str], list[tuple[int, Path]]]:
    """(class names, (label, path) of each video in sorted order, the first `max_videos` if given)."""
    class_names, class_videos = find_videos(root)
    entries = [(label, path) for label, paths in enumerate(class_videos) for path in paths]
    if max_videos is not None:
        entries = entries[:max_videos]
    if not entries:
        raise DataError(f"no videos ({' '.join(sorted(VIDEO_SUFFIXES))} or frame folders) in {root}")
    if any(path.is_file() for _, path in entries):
        try:
            import av  # noqa: F401
        except ImportError:
            raise DataError(f"{root} holds video files: decoding them needs PyAV (pip install av)") from None
    return class_names, entries


VideoClips = tuple[int, int, Path, list[tuple[int, np.ndarray]]]  # index, label, path, (start, clip)


def iter_video_clips(
    entries: list[tuple[int, Path]], spec: ClipSpec, order: Iterable[int], skipped: list[str]
) -> Iterator[VideoClips]:
    """(index, label, path, [(start, uint8 clip (F, H, W, C))]) of the videos `entries[i]`, i in `order`.

    The clips of video i depend only on (spec, i), not on `order`. A video that cannot be used is
    skipped with a warning and its "path: reason" appended to `skipped`."""
    mode = "RGB" if spec.channels == 3 else "L"
    for index in order:
        label, path = entries[index]
        rng = np.random.default_rng([spec.seed, index])
        try:
            taken = _clips_of(path, spec.span, spec.frame_stride, spec.clips_per_video, spec.clip_starts,
                              rng, spec.image_size, mode)  # fmt: skip
        except Exception as error:  # noqa: BLE001 - one bad video must never end a run (decoders raise many types)
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
            skipped.append(f"{path}: {reason}")
            warnings.warn(f"skipping unreadable video {path}: {reason}", stacklevel=2)
            continue
        yield index, label, path, taken


def load_video_clips(
    root: str | Path,
    clip_length: int,
    image_size: int,
    channels: int = 3,
    frame_stride: int = 1,
    clips_per_video: int = 1,
    clip_starts: ClipStarts = "random",
    seed: int = 0,
    max_videos: int | None = None,
) -> VideoClipSet:
    """Clips (N, clip_length, channels, image_size, image_size) uint8 from the videos under `root`."""
    spec = ClipSpec(clip_length, image_size, channels, frame_stride, clips_per_video, clip_starts, seed)
    class_names, entries = video_entries(root, max_videos)
    clips: list[np.ndarray] = []
    labels: list[int] = []
    sources: list[str] = []
    skipped: list[str] = []
    for _, label, path, taken in iter_video_clips(entries, spec, range(len(entries)), skipped):
        for start, clip in taken:
            clips.append(clip)
            labels.append(label)
            sources.append(f"{path}@{start}")
    if not clips:
        first = skipped[0] if skipped else "?"
        raise DataError(f"none of the {len(entries)} videos in {root} gave a clip; first problem: {first}")
    videos = torch.from_numpy(np.stack(clips)).permute(0, 1, 4, 2, 3).contiguous()  # (N, F, C, H, W)
    return VideoClipSet(
        videos, torch.tensor(labels, dtype=torch.int64), class_names, sources, len(skipped), skipped
    )


def _clips_of(
    path: Path,
    span: int,
    stride: int,
    clips: int,
    starts_mode: ClipStarts,
    rng: np.random.Generator,
    size: int,
    mode: str,
) -> list[tuple[int, np.ndarray]]:
    """(start, uint8 clip (F, H, W, C)) pairs of one video; raises ValueError if it is too short."""
    decoded: list[np.ndarray] = []
    files: list[Path] = []
    if path.is_file():
        decoded = _decode_file(path, size, mode)  # a file is decoded whole: its length is known after
    else:
        files = _frame_files(path)
    count = len(decoded) if path.is_file() else len(files)
    if count < span:
        raise ValueError(f"too short: {count} frames, a clip needs {span}")
    taken = []
    for start in _clip_starts(count, span, clips, starts_mode, rng):
        index = range(start, start + span, stride)
        if path.is_file():
            clip = [decoded[i] for i in index]
        else:
            clip = [_read_frame(files[i], size, mode) for i in index]  # only the frames a clip uses
        taken.append((start, np.stack(clip)))
    return taken
