import pytest
import torch

from rin.data import BatchStream, ImageSet


def _data(n: int) -> ImageSet:
    # Image i is filled with the value i, so a batch's images reveal their indices.
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, 2, 3).clone()
    images[:, :, :, 0] = 255  # an asymmetric column, so flips are visible
    return ImageSet(images, torch.arange(n) % 4, ["a", "b", "c", "d"])


def test_batch_is_pure_function_of_seed_and_step() -> None:
    """batch(step) is identical when recomputed, asked out of order, or asked of a fresh stream."""
    stream = BatchStream(_data(10), batch_size=4, seed=3, random_flip=True)
    first = [stream.batch(step) for step in range(12)]
    fresh = BatchStream(_data(10), batch_size=4, seed=3, random_flip=True)
    for step in (11, 0, 7, 2, 7, 5):  # resumed mid-run, then jumping back across epochs
        images, labels = fresh.batch(step)
        assert torch.equal(images, first[step][0]) and torch.equal(labels, first[step][1])


def test_each_epoch_visits_every_example_once() -> None:
    """Over each epoch (even when batches straddle epochs) every index appears exactly once."""
    stream = BatchStream(_data(10), batch_size=4, seed=0, random_flip=False)
    order = torch.cat([stream.indices(step) for step in range(10)]).view(4, 10)
    for epoch in order:
        assert sorted(epoch.tolist()) == list(range(10))
    assert not torch.equal(order[0], order[1])  # reshuffled every epoch
    images, labels = stream.batch(3)
    assert images[:, 0, 0, 1].tolist() == stream.indices(3).tolist()
    assert labels.tolist() == (stream.indices(3) % 4).tolist()


def test_permutation_follows_documented_seed() -> None:
    """Epoch e uses randperm from a generator seeded with seed * 1_000_003 + e."""
    stream = BatchStream(_data(10), batch_size=5, seed=2, random_flip=False)
    expected = torch.randperm(10, generator=torch.Generator().manual_seed(2 * 1_000_003 + 1))
    assert torch.equal(torch.cat([stream.indices(2), stream.indices(3)]), expected)


def test_seeds_differ_and_flip_only_mirrors() -> None:
    """Different seeds give different orders; flipping mirrors some images and leaves others alone."""
    data = _data(64)
    a = BatchStream(data, 64, seed=0, random_flip=True)
    b = BatchStream(data, 64, seed=1, random_flip=True)
    assert not torch.equal(a.indices(0), b.indices(0))
    images, _ = a.batch(0)
    originals = data.images[a.indices(0)]
    flipped = (images == originals.flip(-1)).flatten(1).all(1)
    assert bool(((images == originals).flatten(1).all(1) | flipped).all())
    assert 0 < int(flipped.sum()) < 64
    assert torch.equal(BatchStream(data, 64, seed=0, random_flip=False).batch(0)[0], originals)


def test_epoch_of_and_dtypes() -> None:
    """epoch_of gives the epoch of a batch's first example; batches are uint8 images and int64 labels."""
    stream = BatchStream(_data(10), batch_size=4, seed=0, random_flip=False)
    assert [stream.epoch_of(step) for step in range(6)] == [0, 0, 0, 1, 1, 2]
    images, labels = stream.batch(0)
    assert images.dtype == torch.uint8 and images.shape == (4, 1, 2, 3) and labels.dtype == torch.int64


def test_bad_arguments_raise() -> None:
    """A zero batch size, a negative step or an empty data set is rejected."""
    with pytest.raises(ValueError):
        BatchStream(_data(4), batch_size=0, seed=0, random_flip=False)
    with pytest.raises(ValueError):
        BatchStream(_data(4), batch_size=2, seed=0, random_flip=False).batch(-1)
    with pytest.raises(ValueError):
        BatchStream(_data(4).subset([]), batch_size=2, seed=0, random_flip=False)
