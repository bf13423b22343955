"""The CIFAR-10 proxy extractor: shapes, learning, determinism, safe caching and batch independence."""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

import rin.data.cifar
import rin.evaluation.networks.cifar_proxy as cifar_proxy
from rin.data.imageset import ImageSet
from rin.errors import EvaluationError
from rin.evaluation.networks.cifar_proxy import (
    CACHE_FILE_NAME,
    FEATURE_DIM,
    CifarProxyClassifier,
    cifar_proxy_features,
    load_cifar_proxy,
    load_or_train_cifar_proxy,
    save_cifar_proxy,
    train_cifar_proxy,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
CIFAR_DIRS = (Path("/work/shared/data/cifar10"), REPO_ROOT.parent / "shared" / "data" / "cifar10")


def _random_model(seed: int = 0) -> CifarProxyClassifier:
    """A seeded model with non-default BatchNorm statistics, so eval-mode features depend on them."""
    torch.manual_seed(seed)
    model = CifarProxyClassifier()
    for name, buffer in model.named_buffers():
        if buffer.is_floating_point() and "running" in name:
            buffer.uniform_(0.5, 1.5)
    return model.eval()


def _images(count: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(
        0, 256, (count, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed)
    )


def _two_colour_classes(count: int, seed: int) -> ImageSet:
    """Class 0 is noisy reddish images, class 1 noisy bluish ones: separable whatever the crop or flip."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(count) % 2
    base = torch.full((count, 3, 1, 1), 0.3)
    base[labels == 0, 0] = 0.7
    base[labels == 1, 2] = 0.7
    pixels = base + 0.15 * torch.randn(count, 3, 32, 32, generator=generator)
    images = (pixels.clamp(0, 1) * 255).round().to(torch.uint8)
    return ImageSet(images, labels.long(), ["red", "blue"])


class _FakeTrainer:
    """Stands in for the 10 min training run and counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, train: ImageSet, **kwargs: object) -> CifarProxyClassifier:
        self.calls += 1
        return _random_model(self.calls)


@pytest.fixture
def trainer(monkeypatch: pytest.MonkeyPatch) -> _FakeTrainer:
    fake = _FakeTrainer()
    monkeypatch.setattr(cifar_proxy, "train_cifar_proxy", fake)
    monkeypatch.setattr(rin.data.cifar, "load_cifar10_shards", lambda path, split: _two_colour_classes(4, 0))
    return fake


def test_feature_and_logit_shapes() -> None:
    """The network gives (B, 256) features and (B, 10) logits; the extractor returns them as float64."""
    model = _random_model()
    images = _images(5)
    with torch.no_grad():
        assert model.features(images.float() / 255).shape == (5, FEATURE_DIM)
        assert model(images.float() / 255).shape == (5, 10)
    features, logits = cifar_proxy_features(model, images)
    assert features.shape == (5, FEATURE_DIM) and logits.shape == (5, 10)
    assert features.dtype == np.float64 and logits.dtype == np.float64
    float_features, _ = cifar_proxy_features(model, images.float() / 255)
    np.testing.assert_allclose(float_features, features, rtol=1e-6, atol=1e-6)  # uint8 == float in [0, 1]


def test_extractor_rejects_bad_images_and_restores_train_mode() -> None:
    """Wrong shapes and out-of-range floats are refused; the model's train/eval mode is left as it was."""
    model = _random_model().train()
    with pytest.raises(ValueError, match=r"\(N, 3, 32, 32\)"):
        cifar_proxy_features(model, torch.zeros(2, 1, 32, 32, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        cifar_proxy_features(model, torch.full((2, 3, 32, 32), -1.0))
    cifar_proxy_features(model, _images(2))
    assert model.training


def test_features_do_not_depend_on_batch_size() -> None:
    """Eval-mode features of an image are the same whether it is scored in a batch of 7 or of 500."""
    model = _random_model()
    images = _images(20)
    small, small_logits = cifar_proxy_features(model, images, batch_size=7)
    large, large_logits = cifar_proxy_features(model, images, batch_size=500)
    np.testing.assert_allclose(small, large, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(small_logits, large_logits, rtol=1e-5, atol=1e-5)


def test_training_separates_two_synthetic_classes() -> None:
    """A few SGD steps on red-vs-blue images classify fresh ones correctly and lower their loss."""
    heldout = _two_colour_classes(64, seed=1)
    untrained = _random_model()
    _, before = cifar_proxy_features(untrained, heldout.images)
    # 32 steps: enough for BatchNorm's running statistics (momentum 0.1) to settle for eval mode
    model = train_cifar_proxy(_two_colour_classes(256, seed=0), epochs=4, batch_size=32, seed=0)
    assert not model.training
    _, after = cifar_proxy_features(model, heldout.images)
    accuracy = float((torch.from_numpy(after).argmax(dim=1) == heldout.labels).double().mean())
    assert accuracy == 1.0
    loss_before = F.cross_entropy(torch.from_numpy(before), heldout.labels)
    loss_after = F.cross_entropy(torch.from_numpy(after), heldout.labels)
    assert loss_after < 0.5 * loss_before


def test_training_is_deterministic_given_a_seed() -> None:
    """The same seed gives bitwise identical weights and leaves the global RNG alone; another seed differs."""
    train = _two_colour_classes(32, seed=0)
    rng_before = torch.get_rng_state()
    first = train_cifar_proxy(train, epochs=1, batch_size=16, seed=3).state_dict()
    assert torch.equal(torch.get_rng_state(), rng_before)
    second = train_cifar_proxy(train, epochs=1, batch_size=16, seed=3).state_dict()
    other = train_cifar_proxy(train, epochs=1, batch_size=16, seed=4).state_dict()
    assert all(torch.equal(first[name], second[name]) for name in first)
    assert not torch.equal(first["head.weight"], other["head.weight"])


def test_save_load_round_trip_gives_identical_features(tmp_path: Path) -> None:
    """Weights saved as safetensors load back to bitwise identical features and logits."""
    model = _random_model()
    save_cifar_proxy(model, tmp_path / "proxy.safetensors")
    loaded = load_cifar_proxy(tmp_path / "proxy.safetensors")
    images = _images(6)
    original = cifar_proxy_features(model, images)
    restored = cifar_proxy_features(loaded, images)
    assert np.array_equal(original[0], restored[0]) and np.array_equal(original[1], restored[1])


def test_load_or_train_trains_once_then_loads_the_cache(tmp_path: Path, trainer: _FakeTrainer) -> None:
    """The first call trains and caches atomically; the second loads the cache without data or training."""
    trained = load_or_train_cifar_proxy("shards", cache_dir=tmp_path, progress=False)
    loaded = load_or_train_cifar_proxy("", cache_dir=tmp_path, progress=False)
    assert trainer.calls == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [CACHE_FILE_NAME]  # no temporary file left
    images = _images(4)
    assert np.array_equal(cifar_proxy_features(trained, images)[0], cifar_proxy_features(loaded, images)[0])


def test_default_cache_dir_follows_rin_cache(
    tmp_path: Path, trainer: _FakeTrainer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without cache_dir the weights are cached under $RIN_CACHE."""
    monkeypatch.setenv("RIN_CACHE", str(tmp_path / "cache"))
    load_or_train_cifar_proxy("shards", progress=False)
    assert (tmp_path / "cache" / CACHE_FILE_NAME).is_file()


def test_missing_cache_without_data_is_a_one_line_error(tmp_path: Path, trainer: _FakeTrainer) -> None:
    """With no cached weights and no data path the error says what to give, in one line."""
    with pytest.raises(EvaluationError, match="not cached") as caught:
        load_or_train_cifar_proxy("", cache_dir=tmp_path)
    assert "\n" not in str(caught.value)
    assert trainer.calls == 0


def _write_state_with(path: Path, name: str, tensor: torch.Tensor | None) -> None:
    state = {key: value.contiguous() for key, value in _random_model().state_dict().items()}
    if tensor is None:
        del state[name]
    else:
        state[name] = tensor
    save_file(state, str(path), metadata={"format": "rin-cifar10-proxy-v1"})


@pytest.mark.parametrize(
    ("corruption", "message"),
    [
        ("wrong_shape", re.escape("expected torch.float32 (10, 256)")),
        ("missing", "is missing"),
        ("extra", "unexpected tensor"),
        ("nan", "NaN"),
        ("garbage", "as safetensors"),
        ("truncated", "as safetensors"),
        ("foreign_metadata", "metadata format"),
    ],
)
def test_bad_cache_file_is_refused_in_one_line(
    tmp_path: Path, trainer: _FakeTrainer, corruption: str, message: str
) -> None:
    """A cache file that is not exactly the proxy's weights raises EvaluationError; nothing is retrained."""
    path = tmp_path / CACHE_FILE_NAME
    if corruption == "wrong_shape":
        _write_state_with(path, "head.weight", torch.zeros(10, 128))
    elif corruption == "missing":
        _write_state_with(path, "expand.weight", None)
    elif corruption == "extra":
        _write_state_with(path, "extra.weight", torch.zeros(3))
    elif corruption == "nan":
        _write_state_with(path, "head.bias", torch.full((10,), float("nan")))
    elif corruption == "garbage":
        path.write_bytes(b"not a safetensors file at all")
    elif corruption == "truncated":
        save_cifar_proxy(_random_model(), path)
        path.write_bytes(path.read_bytes()[:1000])
    else:
        save_file({k: v.contiguous() for k, v in _random_model().state_dict().items()}, str(path))
    before = path.read_bytes()
    with pytest.raises(EvaluationError, match=message) as caught:
        load_or_train_cifar_proxy("shards", cache_dir=tmp_path)
    assert "\n" not in str(caught.value)
    assert trainer.calls == 0
    assert path.read_bytes() == before  # refused, not overwritten


class _Payload:
    """Unpickling this creates `marker`: stands in for arbitrary code in a malicious pickle."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, int]]:
        return os.open, (str(self.marker), os.O_CREAT | os.O_WRONLY)


def test_pickle_at_the_cache_path_is_refused_and_never_run(tmp_path: Path, trainer: _FakeTrainer) -> None:
    """A pickle (as torch.save writes) in place of the weights is refused without being unpickled."""
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"head.weight": _Payload(marker)})
    (tmp_path / CACHE_FILE_NAME).write_bytes(payload)
    with pytest.raises(EvaluationError, match="as safetensors") as caught:
        load_or_train_cifar_proxy("shards", cache_dir=tmp_path)
    assert "\n" not in str(caught.value)
    assert not marker.exists()
    os.close(pickle.loads(payload)["head.weight"])  # the payload is live: unpickling does run it
    assert marker.exists()


@pytest.mark.slow
def test_real_proxy_reaches_80_percent_on_the_cifar10_test_shard() -> None:
    """With the default recipe on the 50,000 training images the proxy scores >= 80% on the test set."""
    data = next((path for path in CIFAR_DIRS if path.is_dir()), None)
    if data is None:
        pytest.skip("CIFAR-10 shards not found in /work/shared/data/cifar10 or ../shared/data/cifar10")
    from rin.data.cifar import load_cifar10_shards

    model = train_cifar_proxy(load_cifar10_shards(str(data), split="train"), seed=0)
    test = load_cifar10_shards(str(data), split="test")
    _, logits = cifar_proxy_features(model, test.images)
    accuracy = float((torch.from_numpy(logits).argmax(dim=1) == test.labels).double().mean())
    assert accuracy >= 0.80, f"test accuracy {accuracy:.2%}"
