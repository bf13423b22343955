from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from rin.data import DataError, load_image_folder


def _striped(width: int = 40, height: int = 20) -> Image.Image:
    """Red | green | blue columns: only green survives a centre square crop."""
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    pixels[:, : width // 4, 0] = 255
    pixels[:, width // 4 : 3 * width // 4, 1] = 255
    pixels[:, 3 * width // 4 :, 2] = 255
    return Image.fromarray(pixels)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "cats").mkdir()
    (tmp_path / "dogs" / "nested").mkdir(parents=True)
    (tmp_path / "empty").mkdir()
    _striped().save(tmp_path / "cats" / "wide.PNG")
    Image.new("L", (12, 12), 128).save(tmp_path / "dogs" / "gray.png")
    Image.new("RGBA", (16, 16), (0, 0, 255, 100)).save(tmp_path / "dogs" / "nested" / "rgba.png")
    (tmp_path / "dogs" / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    (tmp_path / "dogs" / "notes.txt").write_text("not an image")
    return tmp_path


def test_classes_conversion_and_skips(folder: Path) -> None:
    """Sorted class folders become labels, modes convert to RGB, and the corrupt file is counted."""
    with pytest.warns(UserWarning, match="broken.jpg"):
        data = load_image_folder(str(folder), image_size=8, channels=3)
    assert data.class_names == ["cats", "dogs"]  # 'empty' has no images and is no class
    assert data.labels.tolist() == [0, 1, 1]
    assert data.images.shape == (3, 3, 8, 8) and data.skipped == 1
    gray, rgba = data.images[1], data.images[2]
    assert gray.unique().tolist() == [128]
    assert rgba[2].unique().tolist() == [255] and rgba[:2].unique().tolist() == [0]


def test_centre_crop_then_resize(folder: Path) -> None:
    """A wide image is centre-cropped to a square (only the green middle remains) before resizing."""
    with pytest.warns(UserWarning):
        data = load_image_folder(str(folder), image_size=8, channels=3)
    wide = data.images[0]
    assert wide[1].unique().tolist() == [255]
    assert wide[0].unique().tolist() == [0] and wide[2].unique().tolist() == [0]


def test_grayscale_output(folder: Path) -> None:
    """channels=1 gives (N, 1, S, S) luminance images."""
    with pytest.warns(UserWarning):
        data = load_image_folder(str(folder), image_size=4, channels=1)
    assert data.images.shape == (3, 1, 4, 4)
    assert data.images[1].unique().tolist() == [128]
    assert int(data.images[0].float().mean()) == 150  # ITU-R 601 luma of pure green (0.587 * 255)


def test_resize_is_bicubic(tmp_path: Path) -> None:
    """Resizing matches PIL's bicubic resize of the same (square) image."""
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8))
    image.save(tmp_path / "noise.png")
    data = load_image_folder(str(tmp_path), image_size=7, channels=3)
    expected = np.asarray(image.resize((7, 7), Image.Resampling.BICUBIC)).transpose(2, 0, 1)
    assert torch.equal(data.images[0], torch.from_numpy(expected.copy()))


def test_loose_images_form_one_class(tmp_path: Path) -> None:
    """Images directly under a root without class folders form one class named after the root."""
    root = tmp_path / "flowers"
    root.mkdir()
    for index in range(3):
        Image.new("RGB", (5, 5), (index, 0, 0)).save(root / f"{index}.bmp")
    data = load_image_folder(str(root), image_size=5, channels=3)
    assert data.class_names == ["flowers"] and data.labels.tolist() == [0, 0, 0]
    assert data.images[:, 0, 0, 0].tolist() == [0, 1, 2]  # sorted file order


def test_missing_or_empty_raise(tmp_path: Path) -> None:
    """A missing root, a root without images, or only unreadable images is a DataError."""
    with pytest.raises(DataError, match="does not exist"):
        load_image_folder(str(tmp_path / "nowhere"), 8, 3)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "readme.txt").write_text("x")
    with pytest.raises(DataError, match="no images"):
        load_image_folder(str(tmp_path), 8, 3)
    (tmp_path / "a" / "bad.png").write_bytes(b"garbage")
    with pytest.warns(UserWarning), pytest.raises(DataError, match="could be used"):
        load_image_folder(str(tmp_path), 8, 3)


@pytest.fixture
def planted(tmp_path: Path) -> tuple[Path, set[str], set[str]]:
    """A 12-image RGB 8x8 folder with planted corrupt, truncated, zero-byte and wrong-mode files."""
    rng = np.random.default_rng(0)
    for klass in ("a", "b"):
        (tmp_path / klass).mkdir()
        for i in range(6):
            Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(
                tmp_path / klass / f"{i}.png"
            )
    good = tmp_path / "a" / "0.png"
    unreadable = {
        tmp_path / "a" / "corrupt.png": rng.integers(0, 256, 300, dtype=np.uint8).tobytes(),
        tmp_path / "a" / "truncated.png": good.read_bytes()[: len(good.read_bytes()) // 2],
        tmp_path / "b" / "empty.jpg": b"",
    }
    for path, content in unreadable.items():
        path.write_bytes(content)
    Image.new("L", (8, 8), 7).save(tmp_path / "b" / "gray.png")
    Image.new("P", (8, 8)).save(tmp_path / "b" / "palette.png")
    wrong_mode = {str(tmp_path / "b" / "gray.png"), str(tmp_path / "b" / "palette.png")}
    return tmp_path, {str(p) for p in unreadable}, wrong_mode


def test_planted_bad_files_are_skipped_exactly(planted) -> None:
    """Corrupt, truncated and zero-byte files are skipped and named; wrong-mode ones follow on_mismatch."""
    root, unreadable, wrong_mode = planted
    with pytest.warns(UserWarning):
        converted = load_image_folder(str(root), 8, 3, on_mismatch="convert")
    assert {item.split(": ")[0] for item in converted.skipped_items} == unreadable
    assert (len(converted), converted.skipped, converted.converted) == (14, 3, 2)
    with pytest.warns(UserWarning):
        strict = load_image_folder(str(root), 8, 3, on_mismatch="skip")
    assert {item.split(": ")[0] for item in strict.skipped_items} == unreadable | wrong_mode
    assert (len(strict), strict.skipped, strict.converted) == (12, 5, 0)
    with (
        pytest.raises(DataError, match=r"palette\.png has mode P|gray\.png has mode L"),
        pytest.warns(UserWarning),
    ):
        load_image_folder(str(root), 8, 3, on_mismatch="error")


def test_16_bit_grey_png_is_scaled_not_clipped(tmp_path: Path) -> None:
    """A full-range 16-bit grey PNG maps to 8 bits as round(v / 257) (it used to clip: 99.6% white)."""
    values = (np.arange(32 * 32).reshape(32, 32) * 64).astype(np.uint16)  # 0 .. 65472
    Image.fromarray(values).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    for channels in (1, 3):
        with pytest.warns(UserWarning, match="converted 1 of 1 images"):
            data = load_image_folder(str(tmp_path), image_size=32, channels=channels)
        expected = torch.from_numpy(np.rint(values / 257.0).astype(np.uint8))
        assert data.converted == 1
        for channel in range(channels):
            assert torch.equal(data.images[0, channel], expected)


def test_floating_point_images_are_refused_by_name(tmp_path: Path) -> None:
    """A float TIFF, whose range is unknown, is skipped with a warning naming its mode (not clipped)."""
    Image.fromarray(np.full((8, 8), 0.5, dtype=np.float32)).save(tmp_path / "float.tif")
    Image.new("L", (8, 8), 7).save(tmp_path / "ok.png")
    with pytest.warns(UserWarning, match=r"float.tif: floating-point pixels \(mode F\)"):
        data = load_image_folder(str(tmp_path), image_size=8, channels=1)
    assert len(data) == 1 and data.skipped == 1


def test_conversions_are_said_once_with_count_and_mode(tmp_path: Path) -> None:
    """RGB images loaded for a 1-channel model give one console warning with the count and the modes."""
    for i in range(3):
        Image.new("RGB", (8, 8), (200, 10, 10)).save(tmp_path / f"rgb{i}.png")
    Image.new("L", (8, 8), 7).save(tmp_path / "grey.png")
    with pytest.warns(UserWarning) as record:
        load_image_folder(str(tmp_path), image_size=8, channels=1)
    said = [str(w.message) for w in record]
    assert len(said) == 1 and said[0].startswith("converted 3 of 4 images in") and "(3 RGB -> L)" in said[0]
