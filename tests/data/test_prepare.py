"""`rin data cifar10` / `rin data folder`: shards from a user's download that the loaders read back."""

from __future__ import annotations

import io
import json
import pickle
import re
import tarfile

import numpy as np
import pytest
from PIL import Image

from rin.cli.main import main
from rin.data.cifar import CIFAR10_CLASSES, load_cifar10_shards, read_tar_samples
from rin.data.cifar_archive import read_cifar10_archive
from rin.errors import DataError


def _batch(rng, count):
    """A batch dict as in the official files: bytes keys, uint8 (N, 3072) data, a list of labels."""
    data = rng.integers(0, 256, size=(count, 3072), dtype=np.uint8)
    labels = [int(x) for x in rng.integers(0, 10, size=count)]
    return {b"batch_label": b"batch", b"labels": labels, b"data": data,
            b"filenames": [f"img_{i}.png".encode() for i in range(count)]}  # fmt: skip


def _archive(path, batches):
    """cifar-10-python.tar.gz layout: cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}."""
    with tarfile.open(path, "w:gz") as tar:
        for name, content in batches.items():
            raw = pickle.dumps(content, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return path


@pytest.fixture
def archive(tmp_path):
    rng = np.random.default_rng(0)
    batches = {f"data_batch_{i}": _batch(rng, 3) for i in range(1, 6)}
    batches["test_batch"] = _batch(rng, 4)
    batches["batches.meta"] = {b"label_names": [name.encode() for name in CIFAR10_CLASSES]}
    return _archive(tmp_path / "cifar-10-python.tar.gz", batches), batches


def _as_images(batch):
    return batch[b"data"].reshape(-1, 3, 32, 32)  # (N, C, H, W): the files store R, G, B planes


def test_cifar10_archive_to_shards_round_trip(archive, tmp_path, capsys):
    """Every image and label of the archive comes back from the shards, pixel for pixel, shuffled."""
    path, batches = archive
    out = tmp_path / "shards"
    assert main(["data", "cifar10", "--archive", str(path), "--out", str(out), "--shard-size", "4",
                 "--no-progress"]) == 0  # fmt: skip
    assert "rin train --preset cifar10 --data" in capsys.readouterr().out
    assert sorted(p.name for p in out.glob("*.tar")) == [
        "test-000000.tar", "train-000000.tar", "train-000001.tar", "train-000002.tar", "train-000003.tar"
    ]  # fmt: skip
    for split, names in (("train", [f"data_batch_{i}" for i in range(1, 6)]), ("test", ["test_batch"])):
        loaded = load_cifar10_shards(str(out), split)
        expected = np.concatenate([_as_images(batches[n]) for n in names])
        labels = sum((batches[n][b"labels"] for n in names), [])
        keys = [key for shard in sorted(out.glob(f"{split}-*.tar")) for key, _ in read_tar_samples(shard)]
        order = [int(key.rsplit("_", 1)[1]) for key in keys]  # the key keeps the archive position
        assert sorted(order) == list(range(len(expected)))
        assert np.array_equal(loaded.images.numpy(), expected[order])
        assert loaded.labels.tolist() == [labels[i] for i in order]
    assert load_cifar10_shards(str(out), "train").images.shape[0] == 15
    assert order != sorted(order) or len(order) < 3  # shuffled (4 test images: very likely moved)


def test_train_runs_on_the_converted_shards(archive, tmp_path):
    """The cifar10 preset trains 2 steps on shards made by `rin data cifar10` (a narrower model)."""
    path, _ = archive
    out = tmp_path / "shards"
    assert main(["data", "cifar10", "--archive", str(path), "--out", str(out), "--no-progress"]) == 0
    small = ["model.num_latents=8", "model.latent_dim=32", "model.interface_dim=16", "model.num_blocks=1",
             "model.block_depth=1", "model.latent_heads=2", "model.rw_heads=2", "train.num_samples=1",
             "train.sample_steps=1"]  # fmt: skip
    sets = [arg for s in small for arg in ("--set", s)]
    argv = ["train", "--preset", "cifar10", "--data", str(out), "--steps", "2", "--batch-size", "4",
            "--out", str(tmp_path / "run"), "--no-progress", *sets]  # fmt: skip
    assert main(argv) == 0
    assert (tmp_path / "run" / "checkpoints" / "step_00000002").is_dir()


def test_unsafe_pickle_is_refused(tmp_path):
    """A batch whose pickle names any other global is refused before that global is called."""
    from collections import OrderedDict

    batches = {f"data_batch_{i}": OrderedDict(data=1) for i in range(1, 6)}
    path = _archive(tmp_path / "evil.tar.gz", batches)
    assert isinstance(pickle.loads(pickle.dumps(batches["data_batch_1"], protocol=2)), OrderedDict)
    with pytest.raises(DataError, match="collections.OrderedDict is not allowed"):
        list(read_cifar10_archive(path, "train"))


def test_missing_batch_and_used_folder_are_clear_errors(archive, tmp_path, capsys):
    """An archive without data_batch_3 names it; an --out that already has shards is refused."""
    path, batches = archive
    del batches["data_batch_3"]
    broken = _archive(tmp_path / "broken.tar.gz", batches)
    assert (
        main(["data", "cifar10", "--archive", str(broken), "--out", str(tmp_path / "a"), "--no-progress"])
        == 2
    )
    assert "data_batch_3" in capsys.readouterr().err
    out = tmp_path / "b"
    assert main(["data", "cifar10", "--archive", str(path), "--out", str(out), "--no-progress"]) == 0
    assert main(["data", "cifar10", "--archive", str(path), "--out", str(out), "--no-progress"]) == 2
    assert "already holds" in capsys.readouterr().err


def test_image_folder_to_shards(tmp_path, capsys):
    """Class subfolders of mixed sizes become shuffled, centre-cropped 16x16 shards of the given size."""
    src = tmp_path / "src"
    rng = np.random.default_rng(1)
    made = []
    for name, size in (("cat", (40, 24)), ("dog", (20, 20))):
        (src / name).mkdir(parents=True)
        for i in range(4):
            pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
            Image.fromarray(pixels).save(src / name / f"{i}.png")
            made.append(name)
    out = tmp_path / "out"
    assert main(["data", "folder", "--src", str(src), "--size", "16", "--out", str(out), "--shard-size", "3",
                 "--no-progress"]) == 0  # fmt: skip
    shards = sorted(out.glob("train-*.tar"))
    assert len(shards) == 3  # 8 images, 3 per shard
    samples = [s for shard in shards for s in read_tar_samples(shard)]
    classes = json.loads((out / "classes.json").read_text())
    assert classes == {"0": "cat", "1": "dog"}
    indices = [int(key.rsplit("_", 1)[1]) for key, _ in samples]
    assert sorted(indices) == list(range(8)) and indices != list(range(8))
    for (_, parts), index in zip(samples, indices, strict=True):
        assert classes[parts["cls"].decode()] == made[index]
        with Image.open(io.BytesIO(parts["png"])) as image:
            assert image.size == (16, 16) and image.mode == "RGB"


def _clip_samples(out):
    """{key: (uint8 clip (F, H, W, C), label)} of every clip shard in `out`, and the keys in shard order."""
    from rin.data.clip_shards import read_clip

    samples = [s for shard in sorted(out.glob("train-*.tar")) for s in read_tar_samples(shard)]
    assert all(sorted(parts) == ["cls", "npy"] for _, parts in samples)
    keys = [key for key, _ in samples]
    return {key: (read_clip(parts["npy"], key), int(parts["cls"])) for key, parts in samples}, keys


def test_video_folder_to_clip_shards_equal_the_in_memory_clips(tmp_path, frame_folders, capsys):
    """`rin data video` writes shuffled shards whose clips equal load_video_clips' bit for bit, labels too."""
    from rin.data.video_folder import load_video_clips

    src = frame_folders(tmp_path / "src")  # 2 classes x 3 videos of 7-9 random 12x10 frames
    out = tmp_path / "out"
    assert main(["data", "video", "--src", str(src), "--out", str(out), "--frames", "4", "--size", "8",
                 "--clips-per-video", "2", "--frame-stride", "2", "--shard-size", "5", "--seed", "3",
                 "--no-progress"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "wrote 12 clips of 4x8x8x3" in printed and "in 3 train shards" in printed
    assert (
        f"rin train --preset kinetics600 --data {out} --set model.frames=4 --set model.image_size=8"
        in printed
    )
    assert len(list(out.glob("train-*.tar"))) == 3  # 12 clips, 5 per shard
    assert json.loads((out / "classes.json").read_text()) == {"0": "jump", "1": "run"}
    written, keys = _clip_samples(out)
    memory = load_video_clips(src, 4, 8, frame_stride=2, clips_per_video=2, seed=3)
    assert len(written) == len(memory) == 12
    for i, (clip, label) in enumerate(zip(memory.clips, memory.labels.tolist(), strict=True)):
        got, got_label = written[f"train_{i // 2:08d}_{i % 2:03d}"]  # video index, clip number
        assert np.array_equal(got, clip.permute(0, 2, 3, 1).numpy()) and got_label == label
    videos = [int(key.split("_")[1]) for key in keys[::2]]
    assert sorted(videos) == list(range(6)) and videos != list(range(6))  # shuffled by video


def test_video_files_and_frame_folders_to_clip_shards(tmp_path, frame_folders):
    """An mp4 (PyAV) beside frame folders is cut into the same clips as the in-memory loader's, grey here."""
    av = pytest.importorskip("av")
    from rin.data.video_folder import load_video_clips

    src = frame_folders(tmp_path / "src", classes=("a",), videos=1)
    with av.open(str(src / "a" / "movie.mp4"), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width = stream.height = 16
        stream.pix_fmt = "yuv420p"
        for i in range(6):
            frame = av.VideoFrame.from_ndarray(np.full((16, 16, 3), 30 * i, np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    out = tmp_path / "out"
    assert main(["data", "video", "--src", str(src), "--out", str(out), "--frames", "5", "--size", "8",
                 "--channels", "1", "--clip-starts", "even", "--no-progress"]) == 0  # fmt: skip
    written, _ = _clip_samples(out)
    memory = load_video_clips(src, 5, 8, channels=1, clip_starts="even")
    assert [s.rsplit("/", 1)[1].split("@")[0] for s in memory.sources] == ["clip0", "movie.mp4"]
    for i, clip in enumerate(memory.clips):
        assert np.array_equal(written[f"train_{i:08d}_000"][0], clip.permute(0, 2, 3, 1).numpy())
    assert written["train_00000001_000"][0].shape == (5, 8, 8, 1)


@pytest.mark.filterwarnings("ignore:skipping unreadable video")
@pytest.mark.parametrize(
    ("make", "argv", "message"),
    [
        (None, [], "does not exist"),
        ("empty", [], "no videos"),
        ("videos", [], r"none of the 6 videos .* clip of 16 frames"),  # kinetics600's 16 > 7..9 frames
        ("videos", ["--preset", "cifar10"], "image model: pass --frames"),
        ("videos", ["--frames", "0"], "must be positive"),
        ("videos", ["--max-videos", "0"], "--max-videos must be >= 1"),
        ("used", [], "already holds train-"),
    ],
)
def test_bad_video_input_is_a_one_line_error(tmp_path, frame_folders, capsys, make, argv, message):
    """Missing or empty folder, too-short videos, image preset, bad sizes, used --out: exit 2, one line."""
    src = tmp_path / "src"
    if make == "empty":
        src.mkdir()
    elif make in ("videos", "used"):
        frame_folders(src)
    out = tmp_path / "out"
    if make == "used":
        out.mkdir()
        (out / "train-000000.tar").write_bytes(b"")
    code = main(["data", "video", "--src", str(src), "--out", str(out), "--no-progress", *argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1  # (pytest, not stderr, gets the too-short videos' warnings)
    assert err[0].startswith("rin data: error: ") and re.search(message, err[0])
