"""Clip shards: `.npy` clips without pickle, streamed over ranks x workers like image shards, resumable."""

from __future__ import annotations

import io
import tarfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from rin.configs.experiment import DataConfig, ModelConfig
from rin.data import load_video_dataset
from rin.data.clip_shards import ClipShardReader, ClipShardStream, encode_clip, load_clip_shards, read_clip
from rin.data.prepare import video_folder_to_shards
from rin.data.stream import ShardBatches, expand_shards, read_shard, restore
from rin.data.video_folder import ClipSpec, load_video_clips
from rin.errors import DataError

SPEC = ClipSpec(clip_length=4, image_size=8, clips_per_video=2)  # 6 videos x 2 clips of 4x8x8 RGB


@pytest.fixture
def clip_shards(tmp_path, frame_folders):
    """(shard paths, the in-memory loader's clips keyed like the shards): 12 clips, 3 per shard."""
    src = frame_folders(tmp_path / "src")
    video_folder_to_shards(src, tmp_path / "shards", SPEC, shard_size=3)
    memory = load_video_clips(src, 4, 8, clips_per_video=2)
    keyed = {f"train_{i // 2:08d}_{i % 2:03d}": (clip, int(label))
             for i, (clip, label) in enumerate(zip(memory.clips, memory.labels, strict=True))}  # fmt: skip
    return expand_shards(str(tmp_path / "shards")), keyed


def _stream(shards: list[str], rank: int = 0, world: int = 1, workers: int = 0, frames: int = 4):
    return ClipShardStream(shards, seed=5, rank=rank, world_size=world, workers=workers, channels=3,
                           image_size=8, num_classes=2, frames=frames)  # fmt: skip


def _epoch_keys(stream: ClipShardStream, slot: int, epoch: int) -> list[str]:
    keys = []
    for sample in stream.samples(slot):
        if sample[4] > epoch:
            return keys
        if sample[4] == epoch:
            keys.append(sample[2])
    raise AssertionError("unreachable: the stream is endless")


def test_npy_round_trip_and_no_pickle():
    """A uint8 clip survives encode/read bit for bit; an object array (a pickle inside .npy) is refused."""
    clip = np.random.default_rng(0).integers(0, 256, (3, 4, 5, 3), dtype=np.uint8)
    data = encode_clip(clip)
    assert data[:6] == b"\x93NUMPY" and np.array_equal(read_clip(data, "k"), clip)
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    pickled = buffer.getvalue()
    assert np.lib.format.read_array(io.BytesIO(pickled), allow_pickle=True)[0] == {"a": 1}  # it is a pickle
    with pytest.raises(ValueError, match="allow_pickle"):
        read_clip(pickled, "k")
    with pytest.raises(ValueError, match="not a uint8"):
        read_clip(_npy(clip.astype(np.int16)), "k")


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def test_streamed_clips_equal_the_in_memory_loaders(clip_shards):
    """Each streamed clip is uint8 (F, C, S, S), bit for bit the in-memory loader's clip of its key."""
    shards, keyed = clip_shards
    samples = _stream(shards).samples(0)
    seen = [next(samples) for _ in range(len(keyed))]  # one epoch
    assert sorted(sample[2] for sample in seen) == sorted(keyed)
    for clip, label, key, *_ in seen:
        assert clip.shape == (4, 3, 8, 8) and clip.dtype == torch.uint8
        assert torch.equal(clip, keyed[key][0]) and label == keyed[key][1]


@pytest.mark.parametrize("epoch", [0, 1])
def test_two_ranks_by_two_workers_read_every_clip_once(clip_shards, epoch):
    """Over one epoch the 4 (rank, worker) slots read disjoint clips that together are all 12."""
    shards, keyed = clip_shards
    seen = [_epoch_keys(_stream(shards, rank, 2, 2), rank * 2 + worker, epoch)
            for rank in range(2) for worker in range(2)]  # fmt: skip
    everything = [key for keys in seen for key in keys]
    assert len(everything) == len(set(everything)) == 12 and set(everything) == set(keyed)
    assert all(seen)  # every slot got at least one shard


def test_dataloader_workers_deliver_clip_batches(clip_shards):
    """With 2 DataLoader worker processes, batches are (b, F, C, S, S) clips equal to the originals."""
    shards, keyed = clip_shards
    loader = ShardBatches(_stream(shards, workers=2), batch_size=2, workers=2)
    for _ in range(3):
        clips, labels = loader.next()
        assert clips.shape == (2, 4, 3, 8, 8)
        for clip, label, key in zip(clips, labels.tolist(), loader.last_keys, strict=True):
            assert torch.equal(clip, keyed[key][0]) and label == keyed[key][1]


@pytest.mark.parametrize("stop_after", [2, 3])
def test_resumed_clip_loader_neither_repeats_nor_skips(clip_shards, stop_after):
    """2 workers: k batches, a saved state, then 7-k batches hold the clips of 7 uninterrupted batches."""
    shards, _ = clip_shards

    def take(loader: ShardBatches, count: int) -> list[str]:
        keys = []
        for _ in range(count):
            loader.next()
            keys.extend(loader.last_keys)
        return keys

    whole = take(ShardBatches(_stream(shards, workers=2), batch_size=2, workers=2), 7)
    first = ShardBatches(_stream(shards, workers=2), batch_size=2, workers=2)
    before = take(first, stop_after)
    resumed = _stream(shards, workers=2)
    restore(resumed, [first.state()])
    after = take(ShardBatches(resumed, batch_size=2, workers=2), 7 - stop_after)
    assert Counter(before + after) == Counter(whole)
    assert len(set(whole)) == 12  # the 14 clips span all 12 of epoch 0 and 2 of epoch 1


def test_clips_of_another_shape_are_a_one_line_error(clip_shards):
    """A model of 6 frames on 4-frame shards is refused at once, naming the command that rewrites them."""
    shards, _ = clip_shards
    with pytest.raises(DataError, match=r"4x8x8x3 .* needs 6x8x8x3: .*rin data video --frames 6"):
        _stream(shards, frames=6)


def test_image_shards_are_not_clip_shards(tmp_path, shard_writer):
    """Image shards (KEY.png) given as clip shards are refused in one line that names rin data video."""
    shards = shard_writer(tmp_path, shards=1, per_shard=2)
    with pytest.raises(DataError, match=r"no \.npy clip .*rin data video"):
        _stream(shards)


def test_corrupt_clip_is_skipped_with_a_warning(tmp_path):
    """A truncated .npy member is skipped with a warning; the clips around it still arrive."""
    good = encode_clip(np.zeros((4, 8, 8, 3), np.uint8))
    path = tmp_path / "train-000000.tar"
    with tarfile.open(path, "w") as tar:
        for key, data in (("a", good), ("b", good[:100]), ("c", good)):
            info = tarfile.TarInfo(f"{key}.npy")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    samples = _stream([str(path)]).samples(0)
    with pytest.warns(UserWarning, match="skipping corrupt sample b"):
        keys = [next(samples)[2] for _ in range(2)]
    assert keys == ["a", "c"]


def test_held_out_clips_are_the_first_of_the_shards(clip_shards, tmp_path):
    """Held-out clips of video_webdataset are the first num_clips in shard order; "train" is streamed."""
    shards, keyed = clip_shards
    first = [key for key, _ in read_shard(shards[0])][:2]
    model = ModelConfig(image_size=8, patch_size=4, frames=4, context_frames=2, num_classes=0)
    data = DataConfig(dataset="video_webdataset", path=str(Path(shards[0]).parent), num_clips=2)
    held_out = load_video_dataset(data, model, "test")
    assert held_out.clips.shape == (2, 4, 3, 8, 8)
    assert all(torch.equal(held_out.clips[i], keyed[key][0]) for i, key in enumerate(first))
    assert len(load_clip_shards(shards[0], 4, 8, 3, limit=100)) == 3  # fewer than asked: all there are
    with pytest.raises(DataError, match="streamed"):
        load_video_dataset(data, model, "train")


def _tar(path: Path, members: list[tuple[str, bytes]]) -> str:
    with tarfile.open(path, "w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return str(path)


def test_reader_batches_are_the_clips_in_shard_order(clip_shards):
    """ClipShardReader's (B, F, C, H, W) batches are load_clip_shards' clips, in order; limit stops early."""
    shards, _ = clip_shards
    folder = str(Path(shards[0]).parent)
    expected = load_clip_shards(folder, 4, 8, 3, limit=100).clips.numpy()  # all 12, in shard order
    reader = ClipShardReader(folder, batch_size=5)
    batches = list(reader)
    assert [b.shape for b in batches] == [(5, 4, 3, 8, 8), (5, 4, 3, 8, 8), (2, 4, 3, 8, 8)]
    assert np.array_equal(np.concatenate(batches), expected) and batches[0].dtype == np.uint8
    assert reader.count == 12 and reader.clip_shape == (4, 8, 8, 3) and reader.skipped == []
    limited = list(ClipShardReader(folder, batch_size=5, limit=7))
    assert np.array_equal(np.concatenate(limited), expected[:7])


def test_reader_skips_undecodable_clips_and_lists_them(tmp_path):
    """A truncated .npy is skipped and named in `skipped`; the clips around it are read."""
    good = encode_clip(np.arange(4 * 8 * 8 * 3, dtype=np.uint8).reshape(4, 8, 8, 3))
    shard = _tar(tmp_path / "train-000000.tar", [("a.npy", good), ("b.npy", good[:100]), ("c.npy", good)])
    reader = ClipShardReader(shard, batch_size=4)
    assert [b.shape[0] for b in reader] == [2]
    assert len(reader.skipped) == 1 and reader.skipped[0].startswith(f"{shard}:b: ")


def test_reader_refuses_wrong_content_in_one_line(tmp_path, shard_writer):
    """Image shards, clips of two shapes, only undecodable clips, an empty folder: one-line DataErrors."""
    images = shard_writer(tmp_path / "images", shards=1, per_shard=2)
    big, small = (encode_clip(np.zeros((4, size, size, 3), np.uint8)) for size in (8, 6))
    mixed = _tar(tmp_path / "mixed.tar", [("a.npy", big), ("b.npy", small)])
    broken = _tar(tmp_path / "broken.tar", [("a.npy", b"not an array")])
    (tmp_path / "empty").mkdir()
    cases = [(images[0], r"sample 00_000 .* no \.npy clip \(has \['cls', 'png'\]\).*rin data video"),
             (mixed, r"sample b .* clip of 4x6x6x3 .* earlier clips are 4x8x8x3"),
             (broken, r"no readable clips in .*broken\.tar; first problem: .*:a: "),
             (str(tmp_path / "empty"), r"no \.tar shards in .*rin data video")]  # fmt: skip
    for spec, match in cases:
        with pytest.raises(DataError, match=match) as caught:
            list(ClipShardReader(spec, batch_size=2))
        assert "\n" not in str(caught.value)
