import pytest
import torch

from rin.data import DataError, ImageSet


def _set(n: int = 6) -> ImageSet:
    images = torch.arange(n * 3 * 2 * 2, dtype=torch.int64).remainder(256).to(torch.uint8).view(n, 3, 2, 2)
    return ImageSet(images, torch.arange(n) % 3, ["a", "b", "c"])


def test_len_and_properties() -> None:
    """An ImageSet reports its size, channels, image size and class count."""
    data = _set()
    assert (len(data), data.channels, data.image_size, data.num_classes) == (6, 3, 2, 3)


def test_subset_keeps_order_and_names() -> None:
    """subset() picks the given examples in the given order with the same class names."""
    data = _set()
    part = data.subset([4, 1])
    assert torch.equal(part.images, data.images[[4, 1]])
    assert part.labels.tolist() == [1, 1]
    assert part.class_names == data.class_names


@pytest.mark.parametrize(
    "images, labels",
    [
        (torch.zeros(2, 3, 4, 4), torch.zeros(2, dtype=torch.int64)),  # float images
        (torch.zeros(2, 4, 4, dtype=torch.uint8), torch.zeros(2, dtype=torch.int64)),  # 3-D
        (torch.zeros(2, 2, 4, 4, dtype=torch.uint8), torch.zeros(2, dtype=torch.int64)),  # 2 channels
        (torch.zeros(2, 3, 4, 4, dtype=torch.uint8), torch.zeros(2, dtype=torch.int32)),  # int32 labels
        (torch.zeros(2, 3, 4, 4, dtype=torch.uint8), torch.zeros(3, dtype=torch.int64)),  # count mismatch
        (torch.zeros(2, 3, 4, 4, dtype=torch.uint8), torch.tensor([0, 3])),  # label >= num classes
        (torch.zeros(2, 3, 4, 4, dtype=torch.uint8), torch.tensor([-1, 0])),  # negative label
    ],
)
def test_invalid_contents_raise(images: torch.Tensor, labels: torch.Tensor) -> None:
    """A wrong dtype, rank, channel count, label count or label value is rejected with DataError."""
    with pytest.raises(DataError):
        ImageSet(images, labels, ["a", "b", "c"])
