"""FID Inception-v3: architecture, preprocessing and the weight loader, on random weights (no download)."""

from __future__ import annotations

import hashlib
import shutil
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rin.errors import EvaluationError, RinError
from rin.evaluation.networks import inception
from rin.evaluation.networks.inception import (
    WEIGHTS_FILE,
    WEIGHTS_SHA256,
    WEIGHTS_URL,
    FIDInceptionV3,
    extract_features,
    load_fid_inception,
)


class _Payload:
    """Unpickling this creates a file: proof of whether a loader ran pickled code."""

    def __init__(self, sentinel: Path) -> None:
        self.sentinel = sentinel

    def __reduce__(self):
        return (open, (str(self.sentinel), "w"))


@pytest.fixture(scope="module")
def random_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    model = FIDInceptionV3()
    for module in model.modules():  # non-trivial running statistics, so a skipped buffer would show
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    return model.state_dict()


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory: pytest.TempPathFactory, random_state: dict[str, torch.Tensor]) -> Path:
    path = tmp_path_factory.mktemp("weights") / "random_inception.pth"
    torch.save(random_state, path)
    return path


@pytest.fixture(scope="module")
def model(weights_file: Path) -> FIDInceptionV3:
    return load_fid_inception(weights_file, allow_other=True)


def _single_line_error(call, *args, **kwargs) -> str:
    with pytest.raises(EvaluationError) as caught:
        call(*args, **kwargs)
    message = str(caught.value)
    assert "\n" not in message and isinstance(caught.value, RinError)
    return message


def test_parameter_count_matches_the_fid_inception() -> None:
    """23,850,960 trainable parameters; with BN running mean/var 23,885,392 in 472 tensors (known counts).

    torchvision's Inception-v3 has 27,161,264 parameters; without its aux head (3,326,696) and with
    1008 instead of 1000 classes (+8 * 2049) that is 23,850,960. A JAX port of the same FID weights
    asserts 23,885,392 values in 472 leaves, counting BatchNorm running statistics.
    """
    model = FIDInceptionV3()
    parameters = sum(p.numel() for p in model.parameters())
    stats = [t for n, t in model.state_dict().items() if n.endswith(("running_mean", "running_var"))]
    assert parameters == 23_850_960
    assert parameters + sum(t.numel() for t in stats) == 23_885_392
    assert len(list(model.parameters())) + len(stats) == 472


def test_loads_a_state_dict_file_completely(model: FIDInceptionV3, random_state, weights_file: Path) -> None:
    """Every tensor of the file, running statistics included, ends up in the model; eval mode, no grads."""
    loaded = model.state_dict()
    assert loaded.keys() == random_state.keys()
    assert all(torch.equal(loaded[name], tensor) for name, tensor in random_state.items())
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    assert model.weights_sha256 == hashlib.sha256(weights_file.read_bytes()).hexdigest()


def test_feature_and_block_shapes_for_rgb(model: FIDInceptionV3) -> None:
    """32x32 RGB uint8 images give finite float64 (N, 2048) and (N, 1008); each block has its known shape."""
    shapes = {}

    def record(name: str):
        return lambda module, args, out: shapes.update({name: out.shape})

    hooks = [
        getattr(model, name).register_forward_hook(record(name))
        for name in ("Conv2d_4a_3x3", "Mixed_5b", "Mixed_5d", "Mixed_6a", "Mixed_6e", "Mixed_7a", "Mixed_7c")
    ]
    images = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    try:
        features, logits = extract_features(model, images)
    finally:
        for hook in hooks:
            hook.remove()
    assert features.shape == (2, 2048) and logits.shape == (2, 1008)
    assert features.dtype == logits.dtype == np.float64 and np.isfinite(features).all()
    assert {name: tuple(shape[1:]) for name, shape in shapes.items()} == {
        "Conv2d_4a_3x3": (192, 71, 71),
        "Mixed_5b": (256, 35, 35),
        "Mixed_5d": (288, 35, 35),
        "Mixed_6a": (768, 17, 17),
        "Mixed_6e": (768, 17, 17),
        "Mixed_7a": (1280, 8, 8),
        "Mixed_7c": (2048, 8, 8),
    }
    # logits are pool3 @ W^T without the fc bias (improved-gan's Inception Score convention)
    weight = model.fc.weight.double().numpy()
    np.testing.assert_allclose(logits, features @ weight.T, rtol=1e-5, atol=1e-5)


def test_grayscale_uint8_equals_rgb_float(model: FIDInceptionV3) -> None:
    """A (N, 1, H, W) uint8 batch gives the features of the same images as 3-channel floats in [0, 1]."""
    grey = torch.randint(0, 256, (2, 1, 32, 32), dtype=torch.uint8)
    features, _ = extract_features(model, grey.numpy())
    expected, _ = extract_features(model, grey.repeat(1, 3, 1, 1).float() / 255.0, batch_size=1)
    assert features.shape == (2, 2048)
    np.testing.assert_allclose(features, expected, rtol=1e-5, atol=1e-6)


class _Stop(Exception):
    pass


def test_input_is_resized_bilinearly_and_scaled_to_minus_one_one() -> None:
    """The first conv sees the 299x299 bilinear (align_corners=False) resize of the input, in [-1, 1]."""
    model = FIDInceptionV3().eval()
    seen = []

    def capture(module, args):
        seen.append(args[0])
        raise _Stop  # the rest of the network is not needed

    model.Conv2d_1a_3x3.register_forward_pre_hook(capture)
    images = torch.rand(2, 3, 32, 32)
    with pytest.raises(_Stop):
        model(images)
    expected = 2.0 * F.interpolate(images, size=(299, 299), mode="bilinear", align_corners=False) - 1.0
    assert seen[0].shape == (2, 3, 299, 299)
    torch.testing.assert_close(seen[0], expected)
    aligned = 2.0 * F.interpolate(images, size=(299, 299), mode="bilinear", align_corners=True) - 1.0
    assert not torch.allclose(seen[0], aligned)  # the test tells the two resize conventions apart


def test_pool_branches_follow_the_tensorflow_graph() -> None:
    """Average pools leave padding out of the mean (count_include_pad=False); Mixed_7c max-pools."""
    model = FIDInceptionV3()
    ones = torch.ones(1, 4, 5, 5)
    for name in ("Mixed_5b", "Mixed_6b", "Mixed_7b"):
        assert torch.equal(getattr(model, name).pool(ones), ones), name  # zero padding would dilute borders
    x = torch.randn(1, 4, 6, 6)
    assert torch.equal(model.Mixed_7c.pool(x), F.max_pool2d(x, kernel_size=3, stride=1, padding=1))
    assert not torch.equal(model.Mixed_7b.pool(x), model.Mixed_7c.pool(x))


@pytest.mark.parametrize(
    ("images", "match"),
    [
        (torch.full((1, 3, 8, 8), 1.5), r"\[0, 1\]"),
        (torch.zeros(1, 4, 8, 8), "1 or 3"),
        (torch.zeros(3, 8, 8), r"\(N, C, H, W\)"),
        (torch.zeros(1, 3, 8, 8, dtype=torch.int32), "uint8 or float"),
    ],
)
def test_extract_features_rejects_bad_images(images: torch.Tensor, match: str) -> None:
    """Floats outside [0, 1], 4 channels, 3-D arrays and int32 raise a ValueError before any convolution."""
    with pytest.raises(ValueError, match=match):
        extract_features(FIDInceptionV3(), images)


def _edited_file(tmp_path: Path, state: dict[str, torch.Tensor], edit) -> Path:
    edited = dict(state)
    edit(edited)
    path = tmp_path / "edited.pth"
    torch.save(edited, path)
    return path


def test_renamed_tensor_is_refused_by_name(tmp_path: Path, random_state) -> None:
    """A file whose tensor was renamed is refused in one line naming the missing tensor."""
    name = "Mixed_6c.branch7x7_2.conv.weight"
    path = _edited_file(tmp_path, random_state, lambda s: s.update({name + "s": s.pop(name)}))
    assert f"tensor {name!r} is missing" in _single_line_error(load_fid_inception, path, allow_other=True)


def test_reshaped_tensor_is_refused_by_name(tmp_path: Path, random_state) -> None:
    """A 1000-class fc (torchvision's Inception) is refused in one line naming the tensor and both shapes."""
    path = _edited_file(tmp_path, random_state, lambda s: s.update({"fc.weight": torch.zeros(1000, 2048)}))
    message = _single_line_error(load_fid_inception, path, allow_other=True)
    assert "'fc.weight'" in message and "(1000, 2048)" in message and "(1008, 2048)" in message


def test_extra_tensor_is_refused_by_name(tmp_path: Path, random_state) -> None:
    """A file with tensors the model lacks (e.g. torchvision's aux head) is refused, naming one."""
    path = _edited_file(tmp_path, random_state, lambda s: s.update({"AuxLogits.fc.weight": torch.zeros(2)}))
    assert "'AuxLogits.fc.weight'" in _single_line_error(load_fid_inception, path, allow_other=True)


def test_pickled_code_in_a_weight_file_is_never_run(tmp_path: Path) -> None:
    """torch.load(weights_only=True) refuses a file holding a code-running pickle; nothing executes."""
    sentinel = tmp_path / "ran.txt"
    path = tmp_path / "evil.pth"
    torch.save({"fc.weight": _Payload(sentinel)}, path)
    assert "cannot read" in _single_line_error(load_fid_inception, path, allow_other=True)
    assert not sentinel.exists()


def test_missing_path_is_refused(tmp_path: Path) -> None:
    """An explicit path that does not exist raises EvaluationError naming it."""
    assert str(tmp_path / "nope.pth") in _single_line_error(
        load_fid_inception, tmp_path / "nope.pth", allow_other=True
    )


def test_offline_without_cache_says_what_to_download_and_where(tmp_path: Path, monkeypatch) -> None:
    """No cached file and no network: one line naming the URL, the cache path and --inception-weights."""
    monkeypatch.setenv("RIN_CACHE", str(tmp_path))

    def offline(url: str, dst: str, *args, **kwargs) -> None:
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    message = _single_line_error(load_fid_inception)
    assert WEIGHTS_URL in message and str(tmp_path / WEIGHTS_FILE) in message
    assert "--inception-weights" in message and "name resolution" in message
    assert list(tmp_path.iterdir()) == []


def test_download_with_wrong_checksum_is_not_kept(tmp_path: Path, monkeypatch, weights_file: Path) -> None:
    """A downloaded file whose sha256 is not WEIGHTS_SHA256 is refused and not cached."""
    monkeypatch.setenv("RIN_CACHE", str(tmp_path))
    fake_download = lambda url, dst, **kwargs: shutil.copy(weights_file, dst)  # noqa: E731
    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_download)
    assert WEIGHTS_SHA256 in _single_line_error(load_fid_inception)
    assert list(tmp_path.iterdir()) == []


def test_cached_file_is_used_without_download(tmp_path: Path, monkeypatch, weights_file: Path) -> None:
    """A cached file with the expected sha256 loads with no download; another one is refused."""
    monkeypatch.setenv("RIN_CACHE", str(tmp_path))
    shutil.copy(weights_file, tmp_path / WEIGHTS_FILE)

    def no_download(*args, **kwargs) -> None:
        raise AssertionError("downloaded although the file is cached")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_download)
    assert "delete it" in _single_line_error(load_fid_inception)  # random weights: another sha256
    digest = hashlib.sha256(weights_file.read_bytes()).hexdigest()
    monkeypatch.setattr(inception, "WEIGHTS_SHA256", digest)
    assert load_fid_inception().weights_sha256 == digest


def test_passed_file_with_another_sha256_is_refused(weights_file: Path) -> None:
    """--inception-weights of random values (a loadable file of the right shapes) is refused by its
    whole sha256, naming both hashes and the opt-in flag; with allow_other it loads."""
    message = _single_line_error(load_fid_inception, weights_file)
    digest = hashlib.sha256(weights_file.read_bytes()).hexdigest()
    assert digest in message and WEIGHTS_SHA256 in message and "--allow-other-inception-weights" in message
    assert load_fid_inception(weights_file, allow_other=True).weights_sha256 == digest


def test_a_matching_prefix_is_not_enough(tmp_path: Path, monkeypatch, weights_file: Path) -> None:
    """A cached file whose sha256 shares the first 8 digits but not the rest is refused."""
    monkeypatch.setenv("RIN_CACHE", str(tmp_path))
    shutil.copy(weights_file, tmp_path / WEIGHTS_FILE)
    digest = hashlib.sha256(weights_file.read_bytes()).hexdigest()
    monkeypatch.setattr(inception, "WEIGHTS_SHA256_PREFIX", digest[:8])  # what the old check compared
    assert "delete it" in _single_line_error(load_fid_inception)
