import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from rin.data import DataError, load_cifar10_shards
from rin.data.cifar import CIFAR10_CLASSES

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "cifar10"


def _jpeg(color: tuple[int, int, int], size: int = 8) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def _write_shard(path: Path, samples: list[tuple[str, bytes, bytes]]) -> Path:
    """A WebDataset shard: KEY.jpg and KEY.cls per sample."""
    with tarfile.open(path, "w") as archive:
        for key, image, label in samples:
            for name, payload in ((f"{key}.jpg", image), (f"{key}.cls", label)):
                info = tarfile.TarInfo(name)
                info.size = len(payload)
                archive.addfile(info, io.BytesIO(payload))
    return path


@pytest.fixture
def shared_cifar() -> Path:
    if not (SHARED / "train-000000.tar").is_file():
        pytest.skip(f"CIFAR-10 shards not found at {SHARED}")
    return SHARED


def test_real_shards_with_limit(shared_cifar: Path) -> None:
    """limit=64 on the real shards gives 64 RGB 32x32 images with labels in 0..9."""
    data = load_cifar10_shards(str(shared_cifar), limit=64)
    assert data.images.shape == (64, 3, 32, 32) and data.images.dtype == torch.uint8
    assert data.labels.dtype == torch.int64 and 0 <= int(data.labels.min()) and int(data.labels.max()) <= 9
    assert len(set(data.labels.tolist())) > 3  # shards are shuffled across classes
    assert float(data.images.float().std()) > 20  # real photos, not blank
    assert data.class_names == CIFAR10_CLASSES and data.skipped == 0


def test_real_test_split_differs_from_train(shared_cifar: Path) -> None:
    """split='test' reads test-*.tar, not the training shards."""
    train = load_cifar10_shards(str(shared_cifar), "train", limit=8)
    test = load_cifar10_shards(str(shared_cifar), "test", limit=8)
    assert not torch.equal(train.images, test.images)


def test_corrupt_jpeg_skipped_and_counted(tmp_path: Path) -> None:
    """A corrupt image is skipped with a warning naming its key and counted in `skipped`."""
    shard = _write_shard(
        tmp_path / "train-000000.tar",
        [
            ("a_0", _jpeg((255, 0, 0)), b"3"),
            ("a_1", b"\xff\xd8 definitely not a jpeg", b"4"),
            ("a_2", _jpeg((0, 0, 255)), b"9\n"),
        ],
    )
    with pytest.warns(UserWarning, match="a_1"):
        data = load_cifar10_shards(str(shard))
    assert data.skipped == 1
    assert data.labels.tolist() == [3, 9]
    assert data.images.shape == (2, 3, 8, 8)
    assert int(data.images[0, 0].float().mean()) > 200 and int(data.images[1, 2].float().mean()) > 200


def test_bad_label_and_missing_member_skipped(tmp_path: Path) -> None:
    """A sample with an out-of-range or non-numeric class, or without its .cls member, is skipped."""
    shard = tmp_path / "s.tar"
    _write_shard(
        shard,
        [("k0", _jpeg((9, 9, 9)), b"12"), ("k1", _jpeg((9, 9, 9)), b"cat"), ("k2", _jpeg((1, 2, 3)), b"0")],
    )
    with tarfile.open(shard, "a") as archive:  # a lone image with no label
        info = tarfile.TarInfo("k3.jpg")
        payload = _jpeg((0, 0, 0))
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))
    with pytest.warns(UserWarning):
        data = load_cifar10_shards(str(shard))
    assert (len(data), data.skipped) == (1, 3)


def test_directory_glob_and_limit_across_shards(tmp_path: Path) -> None:
    """A directory reads {split}-*.tar in order (else all *.tar); a glob works; limit spans shards."""
    for index in range(2):
        samples = [(f"s{index}_{i}", _jpeg((10, 20, 30)), str(index * 3 + i).encode()) for i in range(3)]
        _write_shard(tmp_path / f"train-{index:06d}.tar", samples)
    _write_shard(tmp_path / "test-000000.tar", [("t", _jpeg((0, 0, 0)), b"9")])
    assert load_cifar10_shards(str(tmp_path)).labels.tolist() == [0, 1, 2, 3, 4, 5]
    assert load_cifar10_shards(str(tmp_path), limit=4).labels.tolist() == [0, 1, 2, 3]
    assert load_cifar10_shards(str(tmp_path), "test").labels.tolist() == [9]
    assert load_cifar10_shards(str(tmp_path / "train-00000[1].tar")).labels.tolist() == [3, 4, 5]
    # No shard matches the split: fall back to every .tar in the directory.
    assert len(load_cifar10_shards(str(tmp_path), "val")) == 7


def test_missing_or_empty_paths_raise(tmp_path: Path) -> None:
    """A missing path, a directory without shards, an unmatched glob or an empty shard is a DataError."""
    with pytest.raises(DataError, match="does not exist"):
        load_cifar10_shards(str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match="no .tar shards"):
        load_cifar10_shards(str(tmp_path))
    with pytest.raises(DataError, match="no files match"):
        load_cifar10_shards(str(tmp_path / "*.tar"))
    with pytest.raises(DataError, match="data.path is empty"):
        load_cifar10_shards("")
    _write_shard(tmp_path / "train-000000.tar", [])
    with pytest.raises(DataError, match="no readable samples"):
        load_cifar10_shards(str(tmp_path))


def test_not_a_tar_raises(tmp_path: Path) -> None:
    """A file that is not a tar archive is reported as an unreadable shard, not a traceback."""
    bogus = tmp_path / "train-000000.tar"
    bogus.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(DataError, match="not a readable tar shard"):
        load_cifar10_shards(str(bogus))
