"""TF1 bilinear resize (`--resize tf`): hand-computed values, the Inception's input, torch-fidelity parity."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rin.evaluation.networks.inception import FIDInceptionV3, extract_features, load_fid_inception
from rin.evaluation.networks.resize import resize_bilinear, tf1_resize_bilinear


def _torch_bilinear(x: torch.Tensor, size: int) -> torch.Tensor:
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)


def test_tf1_resize_2x2_to_3x3_matches_the_formula_by_hand() -> None:
    """2x2 -> 3x3: sources 0, 2/3, 4/3 (clamped to 1) per axis, blended width first; torch's differs."""
    x = torch.tensor([[0.0, 1.0], [2.0, 3.0]]).view(1, 1, 2, 2)
    # row 0: 0, 0 + 2/3 * (1 - 0), 1; row 2 (source 4/3 -> pixel 1 alone): 2, 8/3, 3;
    # row 1 (source 2/3): row 0 + 2/3 * (row 2 - row 0)
    expected = torch.tensor(
        [
            [0.0, 2 / 3, 1.0],
            [4 / 3, 2.0, 7 / 3],
            [2.0, 8 / 3, 3.0],
        ]
    ).view(1, 1, 3, 3)
    torch.testing.assert_close(tf1_resize_bilinear(x, 3), expected)
    # positive control: torch's half-pixel centres read sources -1/6 (clamped to 0), 1/2, 7/6
    torch_row = _torch_bilinear(x, 3)[0, 0, 0]
    torch.testing.assert_close(torch_row, torch.tensor([0.0, 0.5, 1.0]))
    assert not torch.allclose(_torch_bilinear(x, 3), expected)


def test_tf1_resize_4x4_to_6x6_matches_the_formula_by_hand() -> None:
    """4x4 -> 6x6: sources 0, 2/3, 4/3, 2, 8/3, 10/3 (clamped to 3); torch's half-pixel resize differs."""
    rows = torch.tensor([0.0, 1.0, 2.0, 3.0])
    cols = torch.tensor([0.0, 1.0, 4.0, 9.0])
    x = torch.outer(rows, cols).view(1, 1, 4, 4)  # separable, so each axis is resized on its own
    # each output k = a[i] + (s - i) * (a[i + 1] - a[i]) with s = k * 4/6, i = floor(s)
    rows_resized = torch.tensor([0.0, 2 / 3, 1 + 1 / 3, 2.0, 2 + 2 / 3, 3.0])
    cols_resized = torch.tensor([0.0, 2 / 3, 1 + 3 / 3, 4.0, 4 + 10 / 3, 9.0])
    expected = torch.outer(rows_resized, cols_resized).view(1, 1, 6, 6)
    torch.testing.assert_close(tf1_resize_bilinear(x, 6), expected)
    assert (_torch_bilinear(x, 6) - expected).abs().max() > 0.1  # positive control


def test_tf1_resize_identity_subsampling_and_shapes() -> None:
    """Same size is the identity, 6 -> 3 picks pixels 0, 2, 4, (h, w) sizes work, bad input is refused."""
    x = torch.rand(2, 3, 6, 6)
    torch.testing.assert_close(tf1_resize_bilinear(x, 6), x)
    torch.testing.assert_close(tf1_resize_bilinear(x, 3), x[:, :, ::2, ::2])
    assert tf1_resize_bilinear(x, (4, 9)).shape == (2, 3, 4, 9)
    assert tf1_resize_bilinear(x.double(), 5).dtype == torch.float64
    torch.testing.assert_close(resize_bilinear(x, 5, "torch"), _torch_bilinear(x, 5))
    with pytest.raises(ValueError, match="float images"):
        tf1_resize_bilinear(torch.zeros(1, 3, 4, 4, dtype=torch.uint8), 8)
    with pytest.raises(ValueError, match="torch, tf"):
        resize_bilinear(x, 5, "area")  # type: ignore[arg-type]


class _Stop(Exception):
    pass


def test_inception_tf_input_is_the_tf_graph_preprocessing() -> None:
    """With resize="tf" the first conv sees TF1-resized pixel values mapped by (x - 128) / 128."""
    model = FIDInceptionV3(resize="tf").eval()
    seen = []

    def capture(module, args):
        seen.append(args[0])
        raise _Stop

    model.Conv2d_1a_3x3.register_forward_pre_hook(capture)
    pixels = torch.randint(0, 256, (2, 3, 32, 32)).float()
    pixels[0, :, 0, 0] = 255.0
    with pytest.raises(_Stop):
        model(pixels / 255.0)
    expected = (tf1_resize_bilinear(pixels, 299) - 128.0) / 128.0
    torch.testing.assert_close(seen[0], expected, rtol=0, atol=1e-6)
    assert seen[0][0, 0, 0, 0] == 127 / 128  # the graph's scaling, not pytorch-fid's 2x - 1 (which gives 1)
    with pytest.raises(ValueError, match="torch, tf"):
        FIDInceptionV3(resize="tf1")  # type: ignore[arg-type]


def _torch_fidelity(module: str, monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """A torch-fidelity module; skips where torch-fidelity is not installed (it is no rin dependency)."""
    spec = importlib.util.find_spec("torch_fidelity")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("torch-fidelity is not installed (not a rin dependency; pip install torch-fidelity)")
    try:
        importlib.import_module("torch_fidelity")
    except Exception:  # its __init__ imports torchvision, which may not load beside this torch
        # (PyPI's CUDA torchvision beside a CPU torch); the modules compared here need only torch
        package = types.ModuleType("torch_fidelity")
        package.__path__ = list(spec.submodule_search_locations)
        monkeypatch.setitem(sys.modules, "torch_fidelity", package)
    return importlib.import_module(f"torch_fidelity.{module}")


@pytest.mark.parametrize("size", [32, 64])
def test_tf1_resize_equals_torch_fidelitys(size: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Our TF1 resize equals torch-fidelity's (interpolate_compat_tensorflow) on (4, 3, S, S) -> 299."""
    compat = _torch_fidelity("interpolate_compat_tensorflow", monkeypatch)
    torch.manual_seed(size)
    for x in (torch.rand(4, 3, size, size), torch.randint(0, 256, (4, 3, size, size)).float()):
        theirs = compat.interpolate_bilinear_2d_like_tensorflow1x(x, size=(299, 299), align_corners=False)
        torch.testing.assert_close(tf1_resize_bilinear(x, 299), theirs, rtol=1e-6, atol=1e-6 * float(x.max()))
        assert (_torch_bilinear(x, 299) - theirs).abs().max() > 1e-2 * float(x.max())  # positive control


def _signal_preserving_weights() -> dict[str, torch.Tensor]:
    """Random FID Inception weights whose features depend on the input (default init nearly erases it)."""
    torch.manual_seed(0)
    model = FIDInceptionV3()
    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    return model.state_dict()


def test_inception_tf_features_equal_torch_fidelitys(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pool3 features and unbiased logits with resize="tf" equal torch-fidelity's Inception's on the same
    (random) weights; with resize="torch" they do not (positive control)."""
    extractor = _torch_fidelity("feature_extractor_inceptionv3", monkeypatch)
    path = tmp_path / "random_inception.pth"
    torch.save(_signal_preserving_weights(), path)
    theirs_net = extractor.FeatureExtractorInceptionV3(
        "inception-v3-compat", ["2048", "logits_unbiased"], feature_extractor_weights_path=str(path)
    )
    images = np.random.default_rng(0).integers(0, 256, (4, 3, 32, 32), dtype=np.uint8)
    with torch.no_grad():
        their_features, their_logits = (t.double().numpy() for t in theirs_net(torch.from_numpy(images)))
    ours = load_fid_inception(path, allow_other=True, resize="tf")
    features, logits = extract_features(ours, images)
    scale = np.abs(their_features).max()
    np.testing.assert_allclose(features, their_features, rtol=0, atol=1e-5 * scale)
    np.testing.assert_allclose(logits, their_logits, rtol=0, atol=1e-5 * np.abs(their_logits).max())
    torch_features, _ = extract_features(load_fid_inception(path, allow_other=True), images)
    assert np.abs(torch_features - their_features).max() > 1e-3 * scale
