"""Shared fixtures: the demo's MNIST splits and one digit classifier trained briefly per session."""

from __future__ import annotations

import pytest

from rin.data.imageset import ImageSet
from rin.data.mnist import load_mnist
from rin.evaluation.networks.digits import DigitClassifier, train_digit_classifier

TEST_EPOCHS = 4  # the default is 10; 4 epochs already clear the 95% bar (97.2% measured) in ~15 s


@pytest.fixture(scope="session")
def mnist_train() -> ImageSet:
    return load_mnist("train")


@pytest.fixture(scope="session")
def mnist_heldout() -> ImageSet:
    return load_mnist("test")


@pytest.fixture(scope="session")
def trained_classifier(mnist_train: ImageSet) -> DigitClassifier:
    return train_digit_classifier(mnist_train.images, mnist_train.labels, epochs=TEST_EPOCHS, seed=0)
