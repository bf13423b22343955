"""Tests of the classifier-free guidance combination."""

from __future__ import annotations

import torch

from rin.sampling.guidance import classifier_free_guidance, with_null_labels


def test_zero_scale_is_the_conditional_output():
    """w = 0 returns the conditional output itself (RIN's setting)."""
    cond, uncond = torch.randn(3, 4), torch.randn(3, 4)
    assert classifier_free_guidance(cond, uncond, 0.0) is cond


def test_guidance_extrapolates_away_from_unconditional():
    """(1 + w) c - w u: equal inputs are a fixed point, and the step from u scales by 1 + w."""
    cond, uncond = torch.randn(3, 4), torch.randn(3, 4)
    torch.testing.assert_close(classifier_free_guidance(cond, cond, 3.0), cond)
    torch.testing.assert_close(classifier_free_guidance(cond, uncond, 2.0) - uncond, 3.0 * (cond - uncond))


def test_null_labels_follow_the_labels():
    """The batched labels are the labels, then -1 for each."""
    assert with_null_labels(torch.tensor([2, 0, 9])).tolist() == [2, 0, 9, -1, -1, -1]
