"""`reference_for`: an ADM-style image batch .npz becomes cached statistics; rin stats load as they are."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from rin.errors import EvaluationError
from rin.evaluation.extractors import Extractor
from rin.evaluation.image_batch_reference import cache_path, reference_for
from rin.evaluation.reference import compute_reference, save_reference
from rin.evaluation.scoring import score_samples


class CountingExtractor:
    """A stub extractor: per-channel means of 4 image quadrants (12 features); counts its calls."""

    def __init__(self) -> None:
        self.calls = 0
        self.extractor = Extractor("stub", "weights-0123456789ab", False, self.features)

    def features(self, images: np.ndarray) -> tuple[np.ndarray, None]:
        self.calls += 1
        n, c, h, w = images.shape
        quadrants = images.reshape(n, c, 2, h // 2, 2, w // 2).mean(axis=(3, 5))
        return quadrants.reshape(n, -1).astype(np.float32), None


def _adm_batch(path, seed):
    """An .npz like ADM's reference batches: uint8 NHWC arr_0 plus TF statistics rin ignores."""
    images = np.random.default_rng(seed).integers(0, 256, (20, 8, 8, 3), dtype=np.uint8)
    np.savez(path, arr_0=images, mu=np.zeros(2048), sigma=np.eye(4))
    return images


def test_image_batch_is_computed_once_then_cached(tmp_path):
    """Statistics equal those of arr_0's images; the second call reads the cache; new images recompute."""
    path = tmp_path / "VIRTUAL_ref.npz"
    images = _adm_batch(path, 0)
    stub = CountingExtractor()
    stats = reference_for(path, stub.extractor)
    direct = compute_reference(images.transpose(0, 3, 1, 2), "stub", lambda b: stub.features(b)[0], "x", "w")
    np.testing.assert_allclose(stats.mu, direct.mu)
    np.testing.assert_allclose(stats.sigma, direct.sigma)
    assert cache_path(path, stub.extractor).is_file()
    stub.calls = 0
    again = reference_for(path, stub.extractor)
    assert stub.calls == 0 and np.array_equal(again.mu, stats.mu)
    _adm_batch(path, 1)  # other images under the same name: the cache no longer matches
    changed = reference_for(path, stub.extractor)
    assert stub.calls > 0 and not np.allclose(changed.mu, stats.mu)


def test_rin_statistics_load_as_they_are(tmp_path):
    """A file from `rin evaluate stats` is read, not treated as images; wrong extractors are refused."""
    stub = CountingExtractor()
    images = np.random.default_rng(0).integers(0, 256, (10, 3, 8, 8), dtype=np.uint8)
    stats = compute_reference(images, "stub", lambda b: stub.features(b)[0], "folder", "weights-0123456789ab")
    save_reference(tmp_path / "ref.npz", stats)
    stub.calls = 0
    assert np.array_equal(reference_for(tmp_path / "ref.npz", stub.extractor).mu, stats.mu)
    assert stub.calls == 0
    other = Extractor("other", "w", False, stub.features)
    with pytest.raises(EvaluationError, match="extractor"):
        reference_for(tmp_path / "ref.npz", other)


def test_bad_image_batches_are_refused(tmp_path):
    """Float images or a missing file are one-line EvaluationErrors."""
    np.savez(tmp_path / "float.npz", arr_0=np.zeros((4, 8, 8, 3), dtype=np.float32))
    stub = CountingExtractor()
    with pytest.raises(EvaluationError, match="uint8"):
        reference_for(tmp_path / "float.npz", stub.extractor)
    with pytest.raises(EvaluationError, match="not found"):
        reference_for(tmp_path / "missing.npz", stub.extractor)


def test_each_resize_has_its_own_cache(tmp_path):
    """An image batch scored with --resize tf is cached apart from torch's, records tf, and the torch
    statistics are not taken for it, nor scored with it."""
    path = tmp_path / "VIRTUAL_ref.npz"
    images = _adm_batch(path, 0)
    stub = CountingExtractor()
    torch_extractor = dataclasses.replace(stub.extractor, resize="torch")
    tf_extractor = dataclasses.replace(stub.extractor, resize="tf")
    assert cache_path(path, torch_extractor) == cache_path(path, stub.extractor)  # names kept from before
    assert cache_path(path, tf_extractor).name.endswith("-resize-tf.stats.npz")
    torch_stats = reference_for(path, torch_extractor)
    assert torch_stats.resize == "torch"
    with pytest.raises(EvaluationError, match="--resize torch, not --resize tf"):
        score_samples(images.transpose(0, 3, 1, 2), torch_stats, tf_extractor)
    stub.calls = 0
    assert reference_for(path, tf_extractor).resize == "tf" and stub.calls > 0  # computed, not reused
    assert len(list(tmp_path.glob("VIRTUAL_ref.*.stats.npz"))) == 2
