"""evaluate_digit_samples: real digits score like the held-out set, noise scores badly."""

from __future__ import annotations

import pytest
import torch

from rin.data.imageset import ImageSet
from rin.evaluation.networks.digits import DigitClassifier, evaluate_digit_samples


def test_heldout_digits_as_samples_match_the_ceiling(
    trained_classifier: DigitClassifier, mnist_heldout: ImageSet
) -> None:
    """Held-out digits passed as samples give sample accuracy == held-out accuracy and distance ~ 0."""
    samples = mnist_heldout.images.float() / 255
    result = evaluate_digit_samples(
        samples, mnist_heldout.labels, trained_classifier, mnist_heldout.images, mnist_heldout.labels
    )
    assert result["num_samples"] == len(mnist_heldout)
    assert result["sample_accuracy"] == result["heldout_accuracy"] >= 0.95
    assert result["frechet_distance"] == pytest.approx(0.0, abs=1e-6)


def test_noise_scores_low_accuracy_and_large_distance(
    trained_classifier: DigitClassifier, mnist_train: ImageSet, mnist_heldout: ImageSet
) -> None:
    """Uniform noise is near chance accuracy and far (>10x the train-vs-held-out distance) in features."""
    real = evaluate_digit_samples(
        mnist_train.images[::4].float() / 255,  # every 4th: all classes (the set is sorted by class)
        mnist_train.labels[::4],
        trained_classifier,
        mnist_heldout.images,
        mnist_heldout.labels,
    )
    noise = torch.rand(500, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    labels = torch.arange(500) % 10
    fake = evaluate_digit_samples(
        noise, labels, trained_classifier, mnist_heldout.images, mnist_heldout.labels
    )
    assert real["sample_accuracy"] >= 0.95
    assert fake["sample_accuracy"] <= 0.3
    assert fake["heldout_accuracy"] == real["heldout_accuracy"]
    assert fake["frechet_distance"] > 10 * real["frechet_distance"], (fake, real)


def test_runs_in_eval_mode_and_restores_train_mode(
    trained_classifier: DigitClassifier, mnist_heldout: ImageSet
) -> None:
    """A classifier left in train mode is evaluated without dropout or batch statistics, then restored."""
    samples, labels = mnist_heldout.images[:300].float() / 255, mnist_heldout.labels[:300]
    reference = evaluate_digit_samples(
        samples, labels, trained_classifier, mnist_heldout.images, mnist_heldout.labels
    )
    trained_classifier.train()
    try:
        again = evaluate_digit_samples(
            samples, labels, trained_classifier, mnist_heldout.images, mnist_heldout.labels
        )
        assert trained_classifier.training
    finally:
        trained_classifier.eval()
    assert again == reference


def _heldout(data: ImageSet) -> tuple[torch.Tensor, torch.Tensor]:
    return data.images, data.labels


def test_rejects_samples_in_model_range(trained_classifier: DigitClassifier, mnist_heldout: ImageSet) -> None:
    """Samples still in [-1, 1] (not mapped to [0, 1]) are refused with a one-line hint."""
    samples = torch.rand(10, 1, 32, 32) * 2 - 1
    with pytest.raises(ValueError, match=r"\(x \+ 1\) / 2"):
        evaluate_digit_samples(
            samples,
            torch.zeros(10, dtype=torch.long),
            trained_classifier,
            mnist_heldout.images,
            mnist_heldout.labels,
        )
