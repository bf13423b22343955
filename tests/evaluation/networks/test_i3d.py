"""I3D (the FVD network): pytorch-i3d's names, SAME padding, preprocessing, and the weight loader."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rin.errors import EvaluationError, RinError
from rin.evaluation.frechet import frechet_distance
from rin.evaluation.networks.i3d import (
    InceptionI3d,
    _pad_same,
    extract_video_features,
    load_i3d,
    resize_frames,
)

SMALL = 32  # frames resized to 32x32 instead of 224x224: the same network, ~100x fewer operations


@pytest.fixture(scope="module")
def random_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    model = InceptionI3d()
    for module in model.modules():
        if isinstance(module, torch.nn.Conv3d):  # He init keeps activations alive through 20 layers
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        if isinstance(module, torch.nn.BatchNorm3d):  # non-trivial statistics, so a skipped buffer would show
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    return model.state_dict()


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory: pytest.TempPathFactory, random_state) -> Path:
    path = tmp_path_factory.mktemp("weights") / "rgb_random.pt"
    torch.save(random_state, path)
    return path


@pytest.fixture(scope="module")
def model(weights_file: Path) -> InceptionI3d:
    loaded = load_i3d(weights_file)
    loaded.input_size = SMALL
    return loaded


def _one_line_error(call, *args, **kwargs) -> str:
    with pytest.raises(EvaluationError) as caught:
        call(*args, **kwargs)
    assert "\n" not in str(caught.value) and isinstance(caught.value, RinError)
    return str(caught.value)


def test_state_dict_has_pytorch_i3d_names_and_the_rgb_i3d_size() -> None:
    """344 tensors named as pytorch-i3d's InceptionI3d (rgb_imagenet.pt); 12,697,264 parameters.

    The count is that of pytorch-i3d's module (its state dict loaded strictly into this one when
    this was written); the paper rounds the RGB I3D to 12M parameters.
    """
    model = InceptionI3d()
    names = model.state_dict().keys()
    assert len(names) == 344
    for name in (
        "Conv3d_1a_7x7.conv3d.weight",
        "Conv3d_1a_7x7.bn.running_var",
        "Conv3d_2c_3x3.bn.bias",
        "Mixed_3b.b1b.conv3d.weight",
        "Mixed_4f.b3b.bn.num_batches_tracked",
        "Mixed_5c.b2b.bn.weight",
        "logits.conv3d.weight",
        "logits.conv3d.bias",
    ):
        assert name in names, name
    assert not any(n.startswith("logits.bn") for n in names) and "Conv3d_1a_7x7.conv3d.bias" not in names
    assert tuple(model.Conv3d_1a_7x7.conv3d.weight.shape) == (64, 3, 7, 7, 7)
    assert tuple(model.logits.conv3d.weight.shape) == (400, 1024, 1, 1, 1)
    parameters = sum(p.numel() for p in model.parameters())
    assert parameters == 12_697_264


def test_same_padding_matches_tensorflow() -> None:
    """SAME padding gives ceil(size / stride) outputs, the odd pixel padded at the end (TF convention)."""
    x = torch.ones(1, 1, 5, 6, 7)
    padded = _pad_same(x, (3, 3, 3), (2, 2, 2))
    # size 5, stride 2: total max(3 - 1, 0) = 2 -> (1, 1); 6: max(3 - 2, 0) = 1 -> (0, 1); 7: 2 -> (1, 1)
    assert tuple(padded.shape[2:]) == (7, 7, 9)
    assert padded[0, 0, :, -1].sum() == 0 and padded[0, 0, :, 0].sum() > 0  # H: padded after only
    conv = F.conv3d(padded, torch.ones(1, 1, 3, 3, 3), stride=2)
    assert tuple(conv.shape[2:]) == (3, 3, 4)  # ceil(5/2), ceil(6/2), ceil(7/2)


def test_loads_a_state_dict_file_completely(model: InceptionI3d, random_state, weights_file: Path) -> None:
    """Every tensor of the file ends up in the model; eval mode, no grads, the file's sha256 recorded."""
    loaded = model.state_dict()
    assert loaded.keys() == random_state.keys()
    assert all(torch.equal(loaded[name], tensor) for name, tensor in random_state.items())
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    assert model.weights_sha256 == hashlib.sha256(weights_file.read_bytes()).hexdigest()


def test_features_of_a_tiny_clip_and_grey_equals_rgb(model: InceptionI3d) -> None:
    """8-frame clips give finite float64 (N, 1024) and (N, 400); grey uint8 equals the RGB float copy."""
    grey = torch.randint(0, 256, (2, 8, 1, 16, 16), dtype=torch.uint8)
    pool, logits = extract_video_features(model, grey.numpy())
    assert pool.shape == (2, 1024) and logits.shape == (2, 400)
    assert pool.dtype == logits.dtype == np.float64 and np.isfinite(logits).all()
    rgb_pool, rgb_logits = extract_video_features(
        model, grey.repeat(1, 1, 3, 1, 1).float() / 255, batch_size=1
    )
    np.testing.assert_allclose(logits, rgb_logits, rtol=1e-4, atol=1e-5)
    # the logits are the 1x1x1 logits conv of the pooled features (no nonlinearity in between)
    weight = model.logits.conv3d.weight.double().flatten(1).numpy()
    bias = model.logits.conv3d.bias.double().numpy()
    np.testing.assert_allclose(logits, pool @ weight.T + bias, rtol=1e-4, atol=1e-5)


def test_logits_depend_on_frame_order(model: InceptionI3d) -> None:
    """The network is spatio-temporal: reversing the frames changes the features (a 2-D net would not)."""
    clip = torch.rand(1, 8, 3, 16, 16)
    forward = extract_video_features(model, clip)[0]
    assert np.array_equal(forward, extract_video_features(model, clip)[0])  # deterministic
    backward = extract_video_features(model, clip.flip(1))[0]
    assert np.abs(forward - backward).max() > 0.01 * np.abs(forward).max()


class _Stop(Exception):
    pass


def test_tf1_resize_samples_source_at_dest_times_scale() -> None:
    """TF1 resize_bilinear: dest i reads source i * in/out (edge clamped); torch's half-pixel mode differs."""
    row = torch.tensor([[[[0.0, 4.0]]]]).expand(1, 1, 2, 2)  # 2x2, columns 0 and 4
    up = resize_frames(row, 4)[0, 0, 0]
    torch.testing.assert_close(up, torch.tensor([0.0, 2.0, 4.0, 4.0]))  # sources 0, 0.5, 1, 1.5 -> clamped
    assert not torch.allclose(resize_frames(row, 4, "torch")[0, 0, 0], up)
    x = torch.rand(2, 3, 6, 6)
    torch.testing.assert_close(resize_frames(x, 6), x)  # the identity at the same size
    down = resize_frames(x, 3)  # 6 -> 3: sources 0, 2, 4 exactly, no blending
    torch.testing.assert_close(down, x[:, :, ::2, ::2])
    with pytest.raises(ValueError, match="tf1 or torch"):
        resize_frames(x, 3, "area")  # type: ignore[arg-type]


def test_input_is_resized_per_frame_and_scaled_to_minus_one_one() -> None:
    """The first conv sees (N, 3, F, S, S): each frame resized (TF1 bilinear), in [-1, 1]."""
    model = InceptionI3d(input_size=20).eval()
    seen = []

    def capture(module, args):
        seen.append(args[0])
        raise _Stop

    model.Conv3d_1a_7x7.register_forward_pre_hook(capture)
    videos = torch.rand(2, 3, 3, 8, 8)
    with pytest.raises(_Stop):
        model(videos)
    expected = 2.0 * resize_frames(videos.flatten(0, 1), 20) - 1.0
    torch.testing.assert_close(seen[0], expected.view(2, 3, 3, 20, 20).transpose(1, 2))


def test_fvd_of_identical_sets_is_zero_and_grows_with_noise(model: InceptionI3d) -> None:
    """FVD = Frechet distance on logits: 0 for the same clips, larger for noisier copies."""
    torch.manual_seed(1)
    clips = torch.rand(6, 4, 3, 16, 16) * 0.5 + 0.25
    base = extract_video_features(model, clips)[1]
    distances = []
    for noise in (0.05, 0.25):
        noisy = (clips + noise * torch.randn_like(clips)).clamp(0, 1)
        distances.append(frechet_distance(base, extract_video_features(model, noisy)[1]))
    assert frechet_distance(base, base) == pytest.approx(0.0, abs=1e-9)
    assert 0 < distances[0] < distances[1]


def test_no_path_names_the_weights_to_download() -> None:
    """Without a path nothing is downloaded: one line naming rgb_imagenet.pt and --i3d-weights."""
    message = _one_line_error(load_i3d, None)
    assert "rgb_imagenet.pt" in message and "--i3d-weights" in message


def test_checksum_mismatch_is_refused(weights_file: Path) -> None:
    """An expected sha256 that the file does not have is refused before the file is unpickled."""
    assert "expected 0000" in _one_line_error(load_i3d, weights_file, expected_sha256="0" * 64)
    good = hashlib.sha256(weights_file.read_bytes()).hexdigest()
    assert load_i3d(weights_file, expected_sha256=good.upper()).weights_sha256 == good


def test_truncated_missing_and_foreign_files_are_refused(tmp_path: Path, weights_file: Path) -> None:
    """A truncated copy, a missing file, an Inception-like state dict and a bare tensor each give one line."""
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(weights_file.read_bytes()[: weights_file.stat().st_size // 2])
    assert "cannot read I3D weights" in _one_line_error(load_i3d, truncated)
    assert "not found" in _one_line_error(load_i3d, tmp_path / "absent.pt")
    foreign = tmp_path / "foreign.pt"
    torch.save({"fc.weight": torch.zeros(3, 3)}, foreign)
    assert "is not the I3D weights" in _one_line_error(load_i3d, foreign)
    bare = tmp_path / "bare.pt"
    torch.save(torch.zeros(3), bare)
    assert "not a state dict" in _one_line_error(load_i3d, bare)


def test_flow_stream_weights_are_refused_by_shape(tmp_path: Path, random_state) -> None:
    """pytorch-i3d's flow_imagenet.pt (2 input channels) is refused naming the first conv's shape."""
    flow = dict(random_state)
    flow["Conv3d_1a_7x7.conv3d.weight"] = torch.zeros(64, 2, 7, 7, 7)
    path = tmp_path / "flow.pt"
    torch.save(flow, path)
    assert "Conv3d_1a_7x7.conv3d.weight" in _one_line_error(load_i3d, path)


@pytest.mark.parametrize(
    ("videos", "match"),
    [
        (torch.full((1, 2, 3, 8, 8), 1.5), r"\[0, 1\]"),
        (torch.zeros(1, 2, 4, 8, 8), "1 or 3"),
        (torch.zeros(1, 3, 8, 8), r"\(N, F"),
        (torch.zeros(1, 2, 3, 8, 8, dtype=torch.int32), "uint8 or float"),
    ],
)
def test_bad_videos_raise_before_any_convolution(videos: torch.Tensor, match: str) -> None:
    """Out-of-range floats, 4 channels, 4-D arrays and int32 raise a ValueError."""
    with pytest.raises(ValueError, match=match):
        extract_video_features(InceptionI3d(input_size=SMALL), videos)


def test_standard_16x224x224_input_pools_to_one_step(model: InceptionI3d) -> None:
    """At FVD's 16 frames of 224x224 the final pool is DeepMind's 2x7x7 window over a 2x7x7 map (~5 s)."""
    standard = InceptionI3d().eval()
    standard.load_state_dict(model.state_dict())
    shapes = {}
    standard.Mixed_5c.register_forward_hook(lambda m, a, out: shapes.update(mixed_5c=tuple(out.shape)))
    pool, logits = extract_video_features(standard, torch.rand(1, 16, 3, 64, 64))
    assert shapes["mixed_5c"] == (1, 1024, 2, 7, 7) and logits.shape == (1, 400)
