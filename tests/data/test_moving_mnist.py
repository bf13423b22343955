"""Tests of the Moving MNIST generator and the clip data path."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from rin.configs import get_preset
from rin.data import BatchStream, ClipSet, load_dataset, load_video_dataset, moving_mnist
from rin.errors import DataError


def test_same_seed_same_clips_other_seed_other_clips():
    """The generator is a pure function of (seed, split, sizes)."""
    a = moving_mnist(6, 8, seed=3)
    b = moving_mnist(6, 8, seed=3)
    c = moving_mnist(6, 8, seed=4)
    assert torch.equal(a.clips, b.clips)
    assert not torch.equal(a.clips, c.clips)


def test_clip_shape_range_and_two_digits():
    """uint8 (N, F, 1, 64, 64); each frame holds at most two digits' worth of ink, at least one's."""
    clips = moving_mnist(8, 5, seed=0).clips
    assert clips.shape == (8, 5, 1, 64, 64) and clips.dtype == torch.uint8
    ink = (clips > 0).flatten(2).sum(dim=2)  # (N, F)
    assert (ink > 40).all() and (ink <= 2 * 28 * 28).all()


def test_digits_move_and_keep_their_ink():
    """Consecutive frames differ (the digits move) but the total ink changes only by overlap effects."""
    clips = moving_mnist(16, 6, seed=1).clips.float()
    assert ((clips[:, 1:] - clips[:, :-1]).abs().flatten(2).sum(2) > 0).all()
    ink = clips.flatten(2).sum(2)  # (N, F)
    assert (ink.amax(1) - ink.amin(1) <= 0.5 * ink.amax(1)).all()


def test_downsampling_is_the_area_average():
    """32x32 clips are the rounded 2x2 means of the 64x64 clips of the same seed."""
    full = moving_mnist(3, 4, seed=2).clips.float()
    small = moving_mnist(3, 4, seed=2, image_size=32).clips.float()
    expected = torch.nn.functional.avg_pool2d(full.flatten(0, 1), 2).unflatten(0, (3, 4))
    assert (small - expected).abs().max() <= 0.5


def test_held_out_split_uses_other_digits_and_seed():
    """The video loader's test split differs from its train split."""
    config = get_preset("moving-mnist")
    data = dataclasses.replace(config.data, num_clips=4)
    train = load_video_dataset(data, config.model, "train")
    test = load_video_dataset(data, config.model, "test")
    assert train.clips.shape == (4, 10, 1, 32, 32) and not torch.equal(train.clips, test.clips)


def test_batch_stream_serves_clips():
    """BatchStream indexes a ClipSet like an ImageSet: (B, F, C, H, W) batches, pure in (seed, step)."""
    clips = moving_mnist(10, 4, seed=0, image_size=16)
    stream = BatchStream(clips, 3, seed=0, random_flip=False)
    batch, labels = stream.batch(5)
    assert batch.shape == (3, 4, 1, 16, 16) and labels.shape == (3,)
    assert torch.equal(batch, BatchStream(clips, 3, seed=0, random_flip=False).batch(5)[0])


def test_mismatched_models_and_data_are_refused():
    """Clips for an image model, images for a video model, bad sizes: one-line DataErrors."""
    video = get_preset("moving-mnist")
    with pytest.raises(DataError, match="video model"):
        load_dataset(video.data, get_preset("mnist").model)
    with pytest.raises(DataError, match="clip data set"):
        load_video_dataset(get_preset("mnist").data, video.model)
    with pytest.raises(DataError, match="divide"):
        moving_mnist(2, 3, seed=0, image_size=48)
    with pytest.raises(DataError, match="ClipSet"):
        ClipSet(torch.zeros(2, 3, 4, 4, dtype=torch.uint8), torch.zeros(2, dtype=torch.int64))
