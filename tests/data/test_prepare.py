"""`rin data cifar10` / `rin data folder`: shards from a user's download that the loaders read back."""

from __future__ import annotations

import io
import json
import pickle
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
