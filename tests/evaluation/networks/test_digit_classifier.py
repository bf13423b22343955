"""The digit classifier: shapes, deterministic training and held-out accuracy."""

from __future__ import annotations

import pytest
import torch

from rin.data.imageset import ImageSet
from rin.evaluation.networks.digits import (
    DigitClassifier,
    accuracy,
    classifier_features,
    train_digit_classifier,
)


def test_shapes_of_features_and_logits() -> None:
    """features() gives (B, 128) penultimate activations and forward() gives (B, 10) logits."""
    model = DigitClassifier().eval()
    x = torch.rand(3, 1, 32, 32)
    assert model.features(x).shape == (3, 128)
    assert model(x).shape == (3, 10)
    with pytest.raises(ValueError, match="32, 32"):
        model(torch.rand(3, 1, 28, 28))


def test_training_is_deterministic_and_keeps_global_rng(mnist_train: ImageSet) -> None:
    """The same seed gives identical weights, and training leaves the caller's torch RNG untouched."""
    images, labels = mnist_train.images[::20], mnist_train.labels[::20]  # 200 digits, 1 epoch
    state = torch.get_rng_state()
    first = train_digit_classifier(images, labels, epochs=1, seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    second = train_digit_classifier(images, labels, epochs=1, seed=3)
    other = train_digit_classifier(images, labels, epochs=1, seed=4)
    for (name, a), b in zip(first.state_dict().items(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert not torch.equal(first.head.weight, other.head.weight)


def test_classifier_reaches_95_percent_on_heldout_digits(
    trained_classifier: DigitClassifier, mnist_heldout: ImageSet
) -> None:
    """Trained on the 4,000 demo digits, the classifier reads >= 95% of the 1,000 held-out digits."""
    held_out = accuracy(trained_classifier, mnist_heldout.images.float() / 255, mnist_heldout.labels)
    assert held_out >= 0.95
    assert not trained_classifier.training


def test_accuracy_accepts_uint8_and_matches_float(
    trained_classifier: DigitClassifier, mnist_heldout: ImageSet
) -> None:
    """uint8 images are read as x / 255, so accuracy and features agree with the float path."""
    images, labels = mnist_heldout.images[:200], mnist_heldout.labels[:200]
    as_float = images.float() / 255
    assert accuracy(trained_classifier, images, labels) == accuracy(trained_classifier, as_float, labels)
    assert torch.equal(
        classifier_features(trained_classifier, images), classifier_features(trained_classifier, as_float)
    )
