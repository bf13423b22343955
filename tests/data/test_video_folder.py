"""Video folder: frame folders and video files, clip sampling, labels, and skipping bad videos."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from rin.data.video_folder import find_videos, load_video_clips
from rin.errors import DataError


def _frame(value: int, size: int = 8) -> Image.Image:
    """A grey frame whose every pixel is `value`: its index can be read back after resizing."""
    return Image.fromarray(np.full((size, size), value, dtype=np.uint8))  # 2-D uint8: mode L


def _frame_folder(folder: Path, count: int, first: int = 0) -> Path:
    folder.mkdir(parents=True)
    for i in range(count):  # names 0.png .. 11.png: natural order must put 2 before 10
        _frame(10 * (first + i)).save(folder / f"{i}.png")
    return folder


def _indices(clip: torch.Tensor, first: int = 0) -> list[int]:
    """Frame indices of a (F, 1, H, W) clip of constant frames made by _frame_folder."""
    return [int(frame.float().mean().round()) // 10 - first for frame in clip]


def test_frame_folder_clips_follow_length_stride_and_natural_order(tmp_path: Path) -> None:
    """Evenly spaced clips of 3 frames at stride 2 from 12 frames start at 0, 4 and 7, in natural order."""
    _frame_folder(tmp_path / "v", 12)
    clips = load_video_clips(
        tmp_path, 3, 8, channels=1, frame_stride=2, clips_per_video=3, clip_starts="even"
    )
    assert clips.clips.shape == (3, 3, 1, 8, 8) and clips.clips.dtype == torch.uint8
    # starts spread over 0..7 (the last start whose clip fits): 0, round(3.5) = 4, 7
    assert [_indices(c) for c in clips.clips] == [[0, 2, 4], [4, 6, 8], [7, 9, 11]]
    assert clips.sources[1].endswith("v@4") and clips.skipped == 0


def test_random_starts_are_seeded_and_in_range(tmp_path: Path) -> None:
    """Random starts repeat for a seed, change with it, and every clip lies inside its video."""
    _frame_folder(tmp_path / "v", 20)

    def starts(seed: int) -> list[int]:
        clips = load_video_clips(tmp_path, 4, 8, channels=1, clips_per_video=6, seed=seed)
        for clip in clips.clips:
            first = _indices(clip)[0]
            assert _indices(clip) == list(range(first, first + 4)) and 0 <= first <= 16
        return [_indices(clip)[0] for clip in clips.clips]

    assert starts(0) == starts(0)
    assert starts(0) != starts(1)


def test_class_folders_give_labels_and_crop_resize_to_rgb(tmp_path: Path) -> None:
    """root/CLASS/VIDEO gives sorted class labels; 12x8 frames are centre-cropped and resized to 4x4 RGB."""
    for label, name in enumerate(["run", "jump"]):
        folder = tmp_path / name / "clip0"
        folder.mkdir(parents=True)
        for i in range(3):
            pixels = np.zeros((8, 12, 3), dtype=np.uint8)
            pixels[:, 2:10] = 100 + label  # the centre 8x8 square; the 2-pixel sides are cropped off
            Image.fromarray(pixels).save(folder / f"{i}.png")
    assert find_videos(tmp_path)[0] == ["jump", "run"]
    clips = load_video_clips(tmp_path, 2, 4, clip_starts="even")
    assert clips.class_names == ["jump", "run"] and clips.labels.tolist() == [0, 1]
    assert clips.clips.shape == (2, 2, 3, 4, 4)
    assert clips.clips[0].unique().tolist() == [101] and clips.clips[1].unique().tolist() == [100]


def test_corrupt_and_short_videos_are_skipped_and_counted(tmp_path: Path) -> None:
    """A truncated frame and a too-short video are skipped with a warning each; the good one is kept."""
    _frame_folder(tmp_path / "good", 5)
    bad = _frame_folder(tmp_path / "bad", 5)
    (bad / "3.png").write_bytes((bad / "3.png").read_bytes()[:20])
    _frame_folder(tmp_path / "short", 2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clips = load_video_clips(tmp_path, 4, 8, channels=1, clip_starts="even")
    assert len(clips) == 1 and clips.sources[0].split("@")[0].endswith("good")
    assert clips.skipped == 2 and len(caught) == 2
    assert any("too short: 2 frames" in item for item in clips.skipped_items)


def test_nothing_usable_is_a_clear_error(tmp_path: Path) -> None:
    """An empty folder, a missing one and a folder of only short videos each raise one-line DataError."""
    with pytest.raises(DataError, match="no videos"):
        load_video_clips(tmp_path, 4, 8)
    with pytest.raises(DataError, match="does not exist"):
        load_video_clips(tmp_path / "absent", 4, 8)
    _frame_folder(tmp_path / "short", 2)
    with pytest.warns(UserWarning), pytest.raises(DataError, match="none of the 1 videos"):
        load_video_clips(tmp_path, 4, 8)


def _write_mp4(path: Path, frames: int, size: int = 32) -> None:
    av = pytest.importorskip("av")
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            pixels = np.full((size, size, 3), 20 * i, dtype=np.uint8)  # brightness encodes the index
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def test_mp4_files_decode_and_a_corrupt_one_is_skipped(tmp_path: Path) -> None:
    """An mp4 the test writes decodes to its frames in order; a garbage .mp4 is skipped and counted."""
    _write_mp4(tmp_path / "a.mp4", frames=8)
    (tmp_path / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    with pytest.warns(UserWarning, match="broken.mp4"):
        clips = load_video_clips(tmp_path, 8, 16, clip_starts="even")
    assert clips.clips.shape == (1, 8, 3, 16, 16) and clips.skipped == 1
    brightness = clips.clips[0].float().mean(dim=(1, 2, 3))
    assert torch.all(brightness.diff() > 10)  # lossy codec, but the 20-level steps survive in order
    assert abs(float(brightness[0]) - 0) < 8 and abs(float(brightness[-1]) - 140) < 8
