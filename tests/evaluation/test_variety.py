"""Tests of the within-class variety measure (rin/evaluation/variety.py)."""

from __future__ import annotations

import math

import pytest
import torch

from rin.evaluation.variety import relative_variety, within_class_distance


def test_copies_have_no_variety():
    """A class drawn as one image repeated has within-class distance 0."""
    images = torch.rand(1, 1, 4, 4).repeat(5, 1, 1, 1)
    assert within_class_distance(images, torch.zeros(5, dtype=torch.long)) == 0.0


def test_distance_is_the_rms_pixel_difference_averaged_over_classes():
    """Class 0: one pair differing by 1 in every pixel (RMS 1); class 1: one pair differing by 0.5 in
    one of 4 pixels (RMS 0.25); the measure is their mean, 0.625."""
    a, b = torch.zeros(1, 2, 2), torch.ones(1, 2, 2)
    c, d = torch.zeros(1, 2, 2), torch.zeros(1, 2, 2)
    d[0, 0, 0] = 0.5
    images, labels = torch.stack([a, b, c, d]), torch.tensor([0, 0, 1, 1])
    assert within_class_distance(images, labels) == pytest.approx((1.0 + 0.25) / 2)


def test_uint8_and_unit_float_agree():
    """uint8 images are read as value / 255."""
    images = torch.randint(0, 256, (6, 1, 3, 3), dtype=torch.uint8)
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    assert within_class_distance(images, labels) == pytest.approx(
        within_class_distance(images / 255.0, labels)
    )


def test_a_set_is_as_varied_as_itself_and_classes_of_one_are_skipped():
    """relative_variety of a set against itself is 1; a class with a single image does not count."""
    images, labels = torch.rand(9, 1, 4, 4), torch.tensor([0, 0, 0, 1, 1, 1, 1, 2, 2])
    assert relative_variety(images, labels, images, labels) == pytest.approx(1.0)
    lone = torch.cat([images, torch.rand(1, 1, 4, 4)]), torch.cat([labels, torch.tensor([7])])
    assert within_class_distance(*lone) == pytest.approx(within_class_distance(images, labels))
    assert math.isfinite(within_class_distance(images, labels))


def test_mismatched_or_single_images_are_refused():
    """Labels must match the images, and some class needs two images."""
    with pytest.raises(ValueError, match="labels"):
        within_class_distance(torch.rand(3, 1, 2, 2), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="at least 2"):
        within_class_distance(torch.rand(2, 1, 2, 2), torch.tensor([0, 1]))
