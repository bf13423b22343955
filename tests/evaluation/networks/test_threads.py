"""The evaluators train at a fixed CPU thread count, so the caller's count cannot change their weights."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from rin.data.imageset import ImageSet
from rin.evaluation.networks import cifar_proxy, digits
from rin.evaluation.networks.threads import fixed_threads


@pytest.fixture
def caller_threads() -> Iterator[None]:
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_fixed_threads_sets_and_restores(caller_threads: None) -> None:
    """Inside the block the count is the pinned one; after it (even after an error) the caller's again."""
    torch.set_num_threads(3)
    with fixed_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 3
    with pytest.raises(RuntimeError), fixed_threads(2):
        raise RuntimeError("inside")
    assert torch.get_num_threads() == 3
    with pytest.raises(ValueError, match=">= 1"), fixed_threads(0):
        pass


def test_digit_classifier_weights_do_not_depend_on_the_callers_threads(
    mnist_train: ImageSet, caller_threads: None
) -> None:
    """Trained from callers at 1 and at 3 threads, the weights are bitwise equal (unpinned, they differ)."""
    images, labels = mnist_train.images[::20], mnist_train.labels[::20]  # 200 digits, 1 epoch
    torch.set_num_threads(1)
    one = digits.train_digit_classifier(images, labels, epochs=1, seed=3)
    assert torch.get_num_threads() == 1
    torch.set_num_threads(3)
    three = digits.train_digit_classifier(images, labels, epochs=1, seed=3)
    for (name, a), b in zip(one.state_dict().items(), three.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_cifar_proxy_trains_at_its_pinned_count(
    monkeypatch: pytest.MonkeyPatch, caller_threads: None
) -> None:
    """Every forward of CPU training sees TRAIN_THREADS, whatever the caller set."""
    seen: list[int] = []
    forward = cifar_proxy.CifarProxyClassifier.forward

    def recording(self, x):  # type: ignore[no-untyped-def]
        seen.append(torch.get_num_threads())
        return forward(self, x)

    monkeypatch.setattr(cifar_proxy.CifarProxyClassifier, "forward", recording)
    torch.set_num_threads(2)
    images = torch.randint(0, 256, (32, 3, 32, 32), dtype=torch.uint8)
    train = ImageSet(images, torch.arange(32) % 10, [str(c) for c in range(10)])
    cifar_proxy.train_cifar_proxy(train, epochs=1, batch_size=16)
    assert cifar_proxy.TRAIN_THREADS != 2  # else the caller's count would pass unpinned
    assert seen and set(seen) == {cifar_proxy.TRAIN_THREADS}
    assert torch.get_num_threads() == 2
