"""Streamed WebDataset shards: ranks x workers partition each epoch, and resume neither repeats nor skips."""

from __future__ import annotations

from collections import Counter
from itertools import islice

import pytest

from rin.data.stream import ShardBatches, ShardStream, expand_shards, read_shard, restore
from rin.errors import DataError


@pytest.fixture
def write_shards(shard_writer):
    return shard_writer


def _stream(shards: list[str], rank: int, world: int, workers: int) -> ShardStream:
    return ShardStream(shards, seed=3, rank=rank, world_size=world, workers=workers, channels=1,
                       image_size=32, num_classes=10)  # fmt: skip


def _epoch_keys(stream: ShardStream, slot: int, epoch: int) -> list[str]:
    keys = []
    for sample in stream.samples(slot):
        if sample[4] > epoch:
            return keys
        if sample[4] == epoch:
            keys.append(sample[2])
    raise AssertionError("unreachable: the stream is endless")


@pytest.mark.parametrize("epoch", [0, 1])
def test_two_ranks_by_two_workers_partition_every_epoch(tmp_path, epoch, write_shards):
    """Over one epoch the 4 (rank, worker) slots read disjoint samples that together are the whole set."""
    shards = write_shards(tmp_path, shards=7, per_shard=5)
    seen = [_epoch_keys(_stream(shards, rank, 2, 2), rank * 2 + worker, epoch)
            for rank in range(2) for worker in range(2)]  # fmt: skip
    everything = [key for keys in seen for key in keys]
    assert len(everything) == len(set(everything)) == 35
    assert all(seen)  # every slot got at least one shard


def test_shard_order_changes_between_epochs(tmp_path, write_shards):
    """Each epoch deals the shards out in a new seeded order, so a slot does not always read the same ones."""
    shards = write_shards(tmp_path, shards=8, per_shard=1)
    stream = _stream(shards, 0, 1, 1)
    assert _epoch_keys(stream, 0, 0) != _epoch_keys(stream, 0, 1)


def test_too_few_shards_is_a_one_line_error(tmp_path, write_shards):
    """Fewer shards than ranks x workers is refused, naming data.workers."""
    shards = write_shards(tmp_path, shards=3, per_shard=2)
    with pytest.raises(DataError, match="data.workers"):
        _stream(shards, 0, 2, 2)


@pytest.mark.parametrize("stop_after", [3, 4])
def test_resumed_loader_neither_repeats_nor_skips(tmp_path, stop_after, write_shards):
    """2 workers: k batches, a saved state, then 10-k batches hold the samples of 10 uninterrupted batches."""
    shards = write_shards(tmp_path, shards=4, per_shard=7)

    def take(loader: ShardBatches, count: int) -> list[str]:
        keys = []
        for _ in range(count):
            loader.next()
            keys.extend(loader.last_keys)
        return keys

    whole = take(ShardBatches(_stream(shards, 0, 1, 2), batch_size=3, workers=2), 10)
    first = ShardBatches(_stream(shards, 0, 1, 2), batch_size=3, workers=2)
    before = take(first, stop_after)
    resumed_stream = _stream(shards, 0, 1, 2)
    restore(resumed_stream, [first.state()])
    after = take(ShardBatches(resumed_stream, batch_size=3, workers=2), 10 - stop_after)
    assert Counter(before + after) == Counter(whole)
    assert len(set(whole)) == 28  # the 30 samples span all 28 of epoch 0 and 2 of epoch 1


def test_urls_read_through_webdataset(tmp_path, write_shards):
    """`pipe:` URLs (read by webdataset.gopen) give the same samples as the local paths."""
    pytest.importorskip("webdataset")
    shards = write_shards(tmp_path, shards=2, per_shard=3)
    urls = expand_shards("::".join(f"pipe:cat {path}" for path in shards))
    assert [key for url in urls for key, _ in read_shard(url)] == [
        key for path in shards for key, _ in read_shard(path)
    ]


def test_brace_patterns_and_directories_name_the_same_shards(tmp_path, write_shards):
    """train-{000000..000002}.tar expands to the three shards a directory holds."""
    pytest.importorskip("braceexpand")
    shards = write_shards(tmp_path, shards=3, per_shard=1)
    assert (
        expand_shards(str(tmp_path / "train-{000000..000002}.tar")) == expand_shards(str(tmp_path)) == shards
    )


def test_a_directory_trains_on_its_train_shards_only(tmp_path, write_shards):
    """Held-out test-*.tar beside train-*.tar are left out; a folder of other names gives all its shards."""
    train = write_shards(tmp_path / "both", shards=2, per_shard=1)
    held_out = tmp_path / "both" / "test-000000.tar"
    held_out.write_bytes((tmp_path / "both" / "train-000000.tar").read_bytes())
    assert expand_shards(str(tmp_path / "both")) == train
    other = tmp_path / "other"
    other.mkdir()
    for name in ("a.tar", "b.tar"):
        (other / name).write_bytes(held_out.read_bytes())
    assert expand_shards(str(other)) == [str(other / "a.tar"), str(other / "b.tar")]


def test_missing_shards_are_a_one_line_error(tmp_path):
    """A path that names no shard is refused with the path in the message."""
    with pytest.raises(DataError, match="does not exist"):
        expand_shards(str(tmp_path / "nope.tar"))


def test_samples_decode_to_the_model_shape(tmp_path, write_shards):
    """RGB shards decode to uint8 (3, 32, 32) with their labels; grayscale models get 1 channel."""
    shards = write_shards(tmp_path, shards=1, per_shard=2, channels=3)
    rgb = ShardStream(shards, 0, 0, 1, 0, channels=3, image_size=32, num_classes=10)
    image, label, key = next(iter(rgb))[:3]
    assert image.shape == (3, 32, 32) and str(image.dtype) == "torch.uint8" and (label, key) == (0, "00_000")
    gray = list(islice(iter(_stream(shards, 0, 1, 0)), 2))
    assert gray[1][0].shape == (1, 32, 32) and gray[1][1] == 1
