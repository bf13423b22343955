"""Reference statistics cache: round trip, provenance checks and a loader that never unpickles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from rin.errors import EvaluationError
from rin.evaluation.frechet import feature_statistics
from rin.evaluation.reference import (
    FORMAT_VERSION,
    ReferenceStats,
    compute_reference,
    image_fingerprint,
    load_reference,
    save_reference,
)

EXTRACTOR = "toy-projection-v1"


class _Payload:
    """Unpickling this creates a file: proof of whether a loader ran pickled code."""

    def __init__(self, sentinel: Path) -> None:
        self.sentinel = sentinel

    def __reduce__(self):
        return (open, (str(self.sentinel), "w"))


def _toy_extractor(batch: np.ndarray) -> np.ndarray:
    """A fixed random projection of the pixels to 6-d features (stands in for Inception)."""
    projection = np.random.default_rng(0).normal(size=(int(np.prod(batch.shape[1:])), 6))
    return (batch.reshape(len(batch), -1) / 255.0) @ projection


@pytest.fixture
def images() -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, size=(23, 3, 4, 4), dtype=np.uint8)


@pytest.fixture
def stats(images: np.ndarray) -> ReferenceStats:
    return compute_reference(images, EXTRACTOR, _toy_extractor, "toy set", weights_id="abc123", batch_size=5)


def _single_line_error(call, *args, **kwargs) -> str:
    with pytest.raises(EvaluationError) as caught:
        call(*args, **kwargs)
    assert "\n" not in str(caught.value)
    return str(caught.value)


def test_statistics_describe_the_features(stats: ReferenceStats, images: np.ndarray) -> None:
    """mu and sigma are the float64 mean and covariance of the stored float32 features of every image."""
    assert stats.features.dtype == np.float32 and stats.features.shape == (23, 6)
    np.testing.assert_allclose(stats.features, _toy_extractor(images), rtol=1e-6)
    mu, sigma = feature_statistics(stats.features)
    np.testing.assert_allclose(stats.mu, mu, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(stats.sigma, sigma, rtol=1e-12, atol=1e-14)
    assert stats.num_images == 23 and stats.fingerprint == image_fingerprint(images)


def test_save_load_round_trip(tmp_path: Path, stats: ReferenceStats) -> None:
    """Arrays come back bit-identical and metadata unchanged."""
    path = tmp_path / "ref.npz"
    save_reference(path, stats)
    loaded = load_reference(path, EXTRACTOR, fingerprint=stats.fingerprint, expected_weights="abc123")
    for name in ("mu", "sigma", "features"):
        assert np.array_equal(getattr(loaded, name), getattr(stats, name)), name
    for name in ("extractor", "weights_id", "source", "fingerprint", "num_images", "format_version"):
        assert getattr(loaded, name) == getattr(stats, name), name
    assert loaded.format_version == FORMAT_VERSION and list(tmp_path.iterdir()) == [path]


def test_batching_does_not_change_the_result(images: np.ndarray, stats: ReferenceStats) -> None:
    """An array split by batch_size, an iterable of torch batches and one batch give the same fingerprint."""
    batches = [torch.from_numpy(images[i : i + 4]) for i in range(0, len(images), 4)]
    other = compute_reference(batches, EXTRACTOR, _toy_extractor, source="toy set")
    assert other.fingerprint == stats.fingerprint == image_fingerprint(images, batch_size=1000)
    np.testing.assert_allclose(other.sigma, stats.sigma, rtol=1e-12)


def test_fingerprint_sees_one_pixel_and_the_layout(images: np.ndarray) -> None:
    """Changing one pixel, or the same bytes in another image shape, changes the fingerprint."""
    changed = images.copy()
    changed[7, 1, 2, 3] ^= 1
    assert image_fingerprint(changed) != image_fingerprint(images)
    assert image_fingerprint(images.reshape(23, 3, 2, 8)) != image_fingerprint(images)


def test_other_extractor_is_refused(tmp_path: Path, stats: ReferenceStats) -> None:
    """A file made with another extractor is refused in one line naming both."""
    save_reference(tmp_path / "ref.npz", stats)
    message = _single_line_error(load_reference, tmp_path / "ref.npz", "fid-inception-v3-2015-12-05")
    assert EXTRACTOR in message and "fid-inception-v3-2015-12-05" in message


def test_other_images_and_weights_are_refused(tmp_path: Path, stats: ReferenceStats, images) -> None:
    """Given a fingerprint of other images, or other weights, the file is refused; the right ones load."""
    path = tmp_path / "ref.npz"
    save_reference(path, stats)
    other = image_fingerprint(images[:-1])
    assert "other images" in _single_line_error(load_reference, path, EXTRACTOR, fingerprint=other)
    assert "weights" in _single_line_error(load_reference, path, EXTRACTOR, expected_weights="def456")
    assert load_reference(path, EXTRACTOR, fingerprint=image_fingerprint(images)).num_images == 23


def test_pickle_in_npz_is_refused_without_running_it(tmp_path: Path, stats: ReferenceStats) -> None:
    """An npz holding a code-running pickle is refused and the code never runs (it would if unpickled)."""
    sentinel = tmp_path / "ran.txt"
    path = tmp_path / "evil.npz"
    arrays = {"mu": stats.mu, "sigma": stats.sigma, "features": stats.features}
    arrays.update(num_images=np.asarray(23), format_version=np.asarray(FORMAT_VERSION))
    arrays.update(weights_id=np.asarray(""), source=np.asarray(""), fingerprint=np.asarray(""))
    payload = np.empty((), dtype=object)
    payload[()] = _Payload(sentinel)
    np.savez(path, extractor=payload, **arrays)
    assert "cannot read" in _single_line_error(load_reference, path, EXTRACTOR)
    assert not sentinel.exists()
    with np.load(path, allow_pickle=True) as data:  # control: the payload is live
        data["extractor"]
    assert sentinel.exists()


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda a: a.pop("sigma"), "no 'sigma' array"),
        (lambda a: a.update(format_version=np.asarray(FORMAT_VERSION + 1)), "format version"),
        (lambda a: a.update(sigma=np.eye(5)), "inconsistent"),
        (lambda a: a.update(num_images=np.asarray(22)), "inconsistent"),
        (lambda a: a.update(mu=np.full(6, np.nan)), "NaN"),
        (lambda a: a.update(extractor=np.asarray(7)), "malformed metadata"),
    ],
)
def test_tampered_files_are_refused(tmp_path: Path, stats: ReferenceStats, edit, match: str) -> None:
    """Missing arrays, another format version, inconsistent shapes, NaNs, odd metadata: EvaluationError."""
    save_reference(tmp_path / "ref.npz", stats)
    with np.load(tmp_path / "ref.npz") as data:
        arrays = {key: data[key] for key in data.files}
    edit(arrays)
    np.savez(tmp_path / "tampered.npz", **arrays)
    assert match in _single_line_error(load_reference, tmp_path / "tampered.npz", EXTRACTOR)


def test_missing_and_non_npz_files_are_refused(tmp_path: Path) -> None:
    """A missing path and a file that is not an npz archive raise EvaluationError, not a numpy traceback."""
    assert "not found" in _single_line_error(load_reference, tmp_path / "absent.npz", EXTRACTOR)
    (tmp_path / "junk.npz").write_bytes(b"not a zip archive at all")
    assert "cannot read" in _single_line_error(load_reference, tmp_path / "junk.npz", EXTRACTOR)
    np.save(tmp_path / "plain.npy", np.zeros(3))
    assert "cannot read" in _single_line_error(load_reference, tmp_path / "plain.npy", EXTRACTOR)


@pytest.mark.parametrize(
    ("images", "match"),
    [
        (np.zeros((4, 3, 4, 4), dtype=np.float32), "uint8"),
        (np.zeros((4, 4, 4), dtype=np.uint8), "uint8"),
        (np.zeros((1, 3, 4, 4), dtype=np.uint8), "at least 2"),
    ],
)
def test_compute_rejects_bad_images(images: np.ndarray, match: str) -> None:
    """Float images, 3-D arrays and a single image raise a ValueError."""
    with pytest.raises(ValueError, match=match):
        compute_reference(images, EXTRACTOR, _toy_extractor, source="bad")


def test_resolution_is_recorded_and_checked(tmp_path: Path, stats: ReferenceStats) -> None:
    """The reference records its images' HxW, keeps it through save/load, and refuses samples of
    another resolution; a file written before the field existed still loads (unchecked)."""
    assert stats.resolution == "4x4"
    save_reference(tmp_path / "ref.npz", stats)
    loaded = load_reference(tmp_path / "ref.npz", EXTRACTOR)
    assert loaded.resolution == "4x4"
    loaded.check_resolution(4, 4)
    message = _single_line_error(loaded.check_resolution, 8, 8)
    assert "the samples are 8x8 but the reference statistics are of 4x4 images" in message
    with np.load(tmp_path / "ref.npz") as data:
        older = {key: data[key] for key in data.files if key != "resolution"}
    np.savez(tmp_path / "old.npz", **older)
    assert load_reference(tmp_path / "old.npz", EXTRACTOR).resolution == ""


def test_resize_is_recorded_and_a_mismatch_refused(tmp_path: Path, images: np.ndarray) -> None:
    """Statistics record the Inception resize; loading or scoring with the other one is a one-line error,
    and a file written before the field existed counts as torch's resize (the only one then)."""
    made = compute_reference(images, EXTRACTOR, _toy_extractor, "toy set", resize="tf")
    save_reference(tmp_path / "tf.npz", made)
    assert load_reference(tmp_path / "tf.npz", EXTRACTOR, expected_resize="tf").resize == "tf"
    message = _single_line_error(load_reference, tmp_path / "tf.npz", EXTRACTOR, expected_resize="torch")
    assert "--resize tf, not --resize torch" in message and "rin evaluate stats --resize torch" in message
    assert "--resize tf, not --resize torch" in _single_line_error(made.check_resize, "torch")
    made.check_resize("tf")
    with np.load(tmp_path / "tf.npz") as data:
        older = {key: data[key] for key in data.files if key != "resize"}
    np.savez(tmp_path / "old.npz", **older)
    assert load_reference(tmp_path / "old.npz", EXTRACTOR, expected_resize="torch").resize == ""
    assert load_reference(tmp_path / "old.npz", EXTRACTOR, expected_resize="").resize == ""
    message = _single_line_error(load_reference, tmp_path / "old.npz", EXTRACTOR, expected_resize="tf")
    assert "--resize torch, not --resize tf" in message
