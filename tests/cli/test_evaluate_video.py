"""`rin evaluate` for video: FVD statistics and scores with the I3D, and the frame-prediction proxies."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from rin.cli.main import main
from rin.data.clip_shards import load_clip_shards
from rin.data.prepare import video_folder_to_shards
from rin.data.video_folder import ClipSpec
from rin.evaluation.networks import i3d


@pytest.fixture(autouse=True)
def small_i3d(monkeypatch):
    """Frames resized to 32x32 instead of 224x224: the same code path at a fraction of the cost."""
    monkeypatch.setattr(i3d, "INPUT_SIZE", 32)


@pytest.fixture(scope="module")
def i3d_weights(tmp_path_factory):
    """A weight file of the I3D architecture with random values (the real one is offline)."""
    path = tmp_path_factory.mktemp("i3d") / "random-i3d.pt"
    torch.manual_seed(0)
    torch.save(i3d.InceptionI3d().state_dict(), path)
    return path


@pytest.fixture(scope="module")
def video_folder(tmp_path_factory):
    """Five videos of 6 random grey 16x16 frames each, as frame folders."""
    root = tmp_path_factory.mktemp("videos")
    rng = np.random.default_rng(0)
    for v in range(5):
        (root / f"v{v}").mkdir()
        for f in range(6):
            pixels = rng.integers(0, 256, (16, 16), dtype=np.uint8)
            Image.fromarray(pixels).save(root / f"v{v}" / f"{f}.png")  # 2-D uint8: mode L
    return root


def _clips(seed: int, n: int = 4) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 4, 16, 16, 1), dtype=np.uint8)


def test_fvd_of_a_video_folder_reference_and_an_npz_of_clips(i3d_weights, video_folder, tmp_path, capsys):
    """`stats --dataset video-folder --extractor i3d`, then scoring (N, F, H, W, C) clips: FVD, no IS."""
    ref = tmp_path / "ref.npz"
    weights = ["--extractor", "i3d", "--i3d-weights", str(i3d_weights), "--no-progress"]
    source = ["--dataset", "video-folder", "--data", str(video_folder), "--frames", "4"]
    size = ["--image-size", "16", "--channels", "1"]
    code = main(["evaluate", "stats", *source, *size, "--out", str(ref), *weights])
    assert code == 0
    samples = tmp_path / "samples.npz"
    np.savez(samples, arr_0=_clips(1))
    capsys.readouterr()
    assert main(["evaluate", "--samples", str(samples), "--ref", str(ref), *weights]) == 0
    out = capsys.readouterr().out
    assert out.startswith("FVD: ") and "Inception Score" not in out
    result = json.loads(out.strip().splitlines()[-1])
    assert result["metric"] == "FVD" and result["extractor"] == i3d.EXTRACTOR_NAME
    assert result["num_samples"] == 4 and result["num_reference"] == 5 and result["frechet"] > 0


def test_fvd_of_clips_against_themselves_is_zero(i3d_weights, tmp_path, capsys):
    """A reference from an .npz of clips scores those same clips at FVD 0."""
    clips, ref = tmp_path / "clips.npz", tmp_path / "ref.npz"
    np.savez(clips, arr_0=_clips(2, n=5))
    weights = ["--extractor", "i3d", "--i3d-weights", str(i3d_weights), "--no-progress"]
    assert (
        main(["evaluate", "stats", "--dataset", "npz", "--data", str(clips), "--out", str(ref), *weights])
        == 0
    )
    capsys.readouterr()
    assert main(["evaluate", "--samples", str(clips), "--ref", str(ref), *weights]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["frechet"] == pytest.approx(0.0, abs=1e-6)


def test_i3d_refusals_are_one_line(i3d_weights, tmp_path, capsys):
    """No weights, images instead of clips, and --checkpoint with i3d each give a one-line error."""
    images = tmp_path / "images.npz"
    np.savez(images, arr_0=np.zeros((3, 16, 16, 1), dtype=np.uint8))
    out = str(tmp_path / "ref.npz")
    assert main(["evaluate", "stats", "--dataset", "npz", "--data", str(images), "--out", out,
                 "--extractor", "i3d"]) == 2  # fmt: skip
    assert main(["evaluate", "stats", "--dataset", "npz", "--data", str(images), "--out", out,
                 "--extractor", "i3d", "--i3d-weights", str(i3d_weights)]) == 2  # fmt: skip
    assert main(["evaluate", "--checkpoint", "run", "--ref", out, "--extractor", "i3d",
                 "--i3d-weights", str(i3d_weights)]) == 2  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3
    assert "rgb_imagenet.pt" in err[0] and "does not read images" in err[1] and "--samples" in err[2]


@pytest.fixture(scope="module")
def clip_shard_dir(tmp_path_factory, video_folder):
    """`rin data video` shards of the video folder: 10 train clips of 4x16x16x1, 3 per shard, and 5 test."""
    out = tmp_path_factory.mktemp("clip-shards")
    video_folder_to_shards(video_folder, out, ClipSpec(4, 16, channels=1, clips_per_video=2), shard_size=3)
    video_folder_to_shards(video_folder, out, ClipSpec(4, 16, channels=1, seed=1), shard_size=3, split="test")
    return out


def _clips_npz(path, spec: str, limit: int = 1000):
    """The clips the existing reader reads from `spec`, in shard order, as an .npz (N, F, H, W, C)."""
    clips = load_clip_shards(spec, 4, 16, 1, limit).clips.permute(0, 1, 3, 4, 2).numpy()
    np.savez(path, arr_0=clips)
    return path


# every array of a statistics file but its source (the description of where the clips came from)
_STATS_KEYS = (
    "mu",
    "sigma",
    "features",
    "num_images",
    "fingerprint",
    "resolution",
    "extractor",
    "weights_id",
)


def _same_statistics(a, b) -> bool:
    """Files a and b hold bit-identical statistics of the same clips, from differently described sources."""
    with np.load(a) as x, np.load(b) as y:
        return all(np.array_equal(x[key], y[key]) for key in _STATS_KEYS) and x["source"] != y["source"]


@pytest.mark.parametrize(
    ("split", "max_clips", "pattern", "limit"),
    [
        ("train", None, "train-*.tar", 1000),
        ("test", None, "test-*.tar", 1000),
        ("train", 7, "train-*.tar", 7),
    ],
)
def test_clip_shard_statistics_equal_those_of_the_same_clips_as_npz(
    i3d_weights, clip_shard_dir, tmp_path, split, max_clips, pattern, limit
):
    """`stats --dataset video-webdataset` on shards writes the file `--dataset npz` writes for their clips."""
    weights = ["--extractor", "i3d", "--i3d-weights", str(i3d_weights), "--no-progress"]
    shards, from_npz = tmp_path / "shards.npz", tmp_path / "npz.npz"
    chosen = ["--split", split] + (["--max-clips", str(max_clips)] if max_clips else [])
    assert main(["evaluate", "stats", "--dataset", "video-webdataset", "--data", str(clip_shard_dir),
                 *chosen, "--out", str(shards), *weights]) == 0  # fmt: skip
    clips = _clips_npz(tmp_path / "clips.npz", str(clip_shard_dir / pattern), limit)
    assert main(["evaluate", "stats", "--dataset", "npz", "--data", str(clips), "--out", str(from_npz),
                 *weights]) == 0  # fmt: skip
    assert _same_statistics(shards, from_npz)
    with np.load(shards) as stats:
        assert int(stats["num_images"]) == {"train": max_clips or 10, "test": 5}[split]
        named = clip_shard_dir / pattern if split == "test" else clip_shard_dir  # a directory: its train-*
        assert str(stats["resolution"]) == "16x16"
        assert str(stats["source"]).startswith(f"video-webdataset {named} (")


def test_clip_shard_statistics_score_their_own_clips_at_fvd_zero(
    i3d_weights, clip_shard_dir, tmp_path, capsys
):
    """Scoring the shards' own clips (as an .npz) against their statistics gives FVD 0: the file is usable."""
    weights = ["--extractor", "i3d", "--i3d-weights", str(i3d_weights), "--no-progress"]
    ref = tmp_path / "ref.npz"
    assert main(["evaluate", "stats", "--dataset", "video-webdataset", "--data", str(clip_shard_dir),
                 "--out", str(ref), *weights]) == 0  # fmt: skip
    clips = _clips_npz(tmp_path / "clips.npz", str(clip_shard_dir))
    assert "statistics of 10 16x16 clips" in capsys.readouterr().out  # clips are not called images
    assert main(["evaluate", "--samples", str(clips), "--ref", str(ref), *weights]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["metric"] == "FVD" and result["num_reference"] == 10
    assert result["frechet"] == pytest.approx(0.0, abs=1e-6)


def test_bad_clip_shards_are_one_line_errors(i3d_weights, clip_shard_dir, tmp_path, shard_writer, capsys):
    """No shards, image shards, a missing split, one clip and --max-clips 0 each exit 2 with one line."""
    weights = ["--extractor", "i3d", "--i3d-weights", str(i3d_weights), "--no-progress"]
    (tmp_path / "empty").mkdir()
    images = shard_writer(tmp_path / "images", shards=1, per_shard=2)[0]
    cases = [
        ([str(tmp_path / "empty")], "no .tar shards in"),
        ([images], "has no .npy clip (has ['cls', 'png'])"),
        ([str(clip_shard_dir), "--split", "val"], "no files match"),
        ([str(clip_shard_dir), "--max-clips", "1"], "need at least 2 images, got 1"),
        ([str(clip_shard_dir), "--max-clips", "0"], "--max-clips must be at least 1"),
    ]
    for data, message in cases:
        out = tmp_path / "ref.npz"
        argv = ["evaluate", "stats", "--dataset", "video-webdataset", "--data", *data, "--out", str(out)]
        assert main([*argv, *weights]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], (data, err)
        assert not out.exists()


def test_video_proxy_command(tmp_path, capsys):
    """`evaluate video-proxy` prints MSE/SSIM with the copy-last baseline; the truth itself scores MSE 0."""
    truth = np.zeros((2, 5, 16, 16, 1), dtype=np.uint8)
    for t in range(5):
        truth[:, t, 4:8, 2 * t : 2 * t + 4] = 255  # a square moving right
    truth_file, samples = tmp_path / "truth.npz", tmp_path / "samples.npz"
    np.savez(truth_file, arr_0=truth)
    np.savez(samples, arr_0=truth)
    assert main(["evaluate", "video-proxy", "--samples", str(samples), "--truth", str(truth_file),
                 "--context", "2"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    result = json.loads(out.strip().splitlines()[-1])
    assert out.startswith("proxy MSE 0.00000") and result["proxy_copy_last_mse"] > 0
    assert main(["evaluate", "video-proxy", "--samples", str(samples), "--truth", str(truth_file),
                 "--context", "5"]) == 2  # fmt: skip
    assert "context" in capsys.readouterr().err


def test_max_videos_below_one_is_a_one_line_error(i3d_weights, video_folder, tmp_path, capsys):
    """`--max-videos 0` of a video folder exits 2 in one line, as `rin data video` refuses it."""
    out = tmp_path / "ref.npz"
    argv = ["evaluate", "stats", "--dataset", "video-folder", "--data", str(video_folder), "--frames", "4",
            "--max-videos", "0", "--extractor", "i3d", "--i3d-weights", str(i3d_weights),
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--max-videos must be at least 1" in err[0]
    assert not out.exists()
