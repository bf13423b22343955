import torch

from rin.data import random_flip, to_model_range, to_unit_range


def test_round_trip_every_byte() -> None:
    """uint8 -> model range -> unit range * 255 gives back every byte value exactly."""
    pixels = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16)
    for scale in (1.0, 0.5):
        x = to_model_range(pixels, scale)
        assert x.dtype == torch.float32
        assert float(x.min()) == -scale and float(x.max()) == scale
        back = (to_unit_range(x, scale) * 255).round().to(torch.uint8)
        assert torch.equal(back, pixels)


def test_unit_range_clamps() -> None:
    """Values past the model range are clamped to [0, 1]."""
    assert to_unit_range(torch.tensor([-3.0, 0.0, 3.0])).tolist() == [0.0, 0.5, 1.0]


def test_random_flip_is_per_example_and_seeded() -> None:
    """Each image is flipped or not (about half are), and the same seed gives the same flips."""
    images = torch.randint(
        0, 256, (200, 3, 4, 5), dtype=torch.uint8, generator=torch.Generator().manual_seed(1)
    )
    out = random_flip(images, torch.Generator().manual_seed(7))
    flipped = (out == images.flip(-1)).flatten(1).all(1)
    kept = (out == images).flatten(1).all(1)
    assert bool((flipped | kept).all())
    assert 60 < int(flipped.sum()) < 140
    assert torch.equal(out, random_flip(images, torch.Generator().manual_seed(7)))
    assert not torch.equal(out, random_flip(images, torch.Generator().manual_seed(8)))
