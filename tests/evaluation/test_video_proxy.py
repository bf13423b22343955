"""Video proxies: SSIM properties, frame-prediction errors with the copy-last baseline, digit features."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rin.evaluation.networks.digits import DigitClassifier
from rin.evaluation.video_proxy import (
    digit_frame_features,
    digit_frame_frechet,
    evaluate_frame_prediction,
    frame_prediction_errors,
    gaussian_window,
    ssim,
)


def _images(seed: int = 0, n: int = 3) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 24, 24, generator=generator)


def test_gaussian_window_is_normalised_and_symmetric() -> None:
    """The 11-tap, sigma 1.5 window sums to 1, is symmetric and peaks in the middle."""
    window = gaussian_window()
    assert window.shape == (11,) and float(window.sum()) == pytest.approx(1.0)
    assert torch.allclose(window, window.flip(0)) and int(window.argmax()) == 5


def test_ssim_of_an_image_with_itself_is_one() -> None:
    """SSIM(x, x) = 1 for every image, whatever its content."""
    x = _images()
    torch.testing.assert_close(ssim(x, x), torch.ones(3, dtype=torch.float64))


def test_ssim_is_symmetric_and_falls_with_noise() -> None:
    """SSIM(x, y) = SSIM(y, x), and more noise gives a lower score, staying in [-1, 1]."""
    x = _images()
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(1))
    scores = [ssim(x, (x + level * noise).clamp(0, 1)) for level in (0.02, 0.1, 0.4)]
    assert torch.all(scores[0] > scores[1]) and torch.all(scores[1] > scores[2])
    assert torch.all(scores[2] >= -1) and torch.all(scores[0] < 1)
    y = (x + 0.1 * noise).clamp(0, 1)
    torch.testing.assert_close(ssim(x, y), ssim(y, x))


def test_ssim_matches_a_direct_formula_on_constant_images() -> None:
    """Constant images a and b (no variance) give the luminance term (2ab + C1) / (a^2 + b^2 + C1)."""
    a, b = 0.3, 0.7
    x, y = torch.full((1, 1, 16, 16), a), torch.full((1, 1, 16, 16), b)
    c1 = (0.01 * 1.0) ** 2
    expected = (2 * a * b + c1) / (a * a + b * b + c1)
    assert float(ssim(x, y)[0]) == pytest.approx(expected, rel=1e-6)


def _moving_clip(frames: int = 6, size: int = 24, step: int = 2) -> torch.Tensor:
    """(1, F, 1, S, S) float: a bright square moving right by `step` pixels per frame."""
    clip = torch.zeros(1, frames, 1, size, size)
    for t in range(frames):
        clip[0, t, 0, 8:14, 2 + step * t : 8 + step * t] = 1.0
    return clip


def test_perfect_prediction_beats_the_copy_last_baseline() -> None:
    """The true future scores MSE 0 and SSIM 1; copying the last context frame scores worse, more so later."""
    truth = _moving_clip()
    result = frame_prediction_errors(truth, truth, context=2)
    assert result["proxy_mse"] == 0.0 and result["proxy_ssim"] == pytest.approx(1.0)
    assert result["predicted_frames"] == 4 and len(result["proxy_mse_per_frame"]) == 4
    assert result["proxy_copy_last_mse"] > 0 and result["proxy_copy_last_ssim"] < 1
    baseline = frame_prediction_errors(
        torch.cat([truth[:, :2], truth[:, 1:2].expand(-1, 4, -1, -1, -1)], 1), truth, 2
    )
    assert baseline["proxy_mse"] == pytest.approx(result["proxy_copy_last_mse"])
    assert np.all(np.diff(baseline["proxy_mse_per_frame"]) >= 0)  # the square drifts further away


def test_uint8_and_float_inputs_agree_and_bad_inputs_raise() -> None:
    """uint8 clips score as their float / 255 copies; mismatched shapes and a bad context raise ValueError."""
    truth = (_moving_clip() * 255).to(torch.uint8)
    noisy = (truth.int() + torch.randint(-20, 20, truth.shape)).clamp(0, 255).to(torch.uint8)
    as_uint8 = frame_prediction_errors(noisy.numpy(), truth.numpy(), 3)
    as_float = frame_prediction_errors(noisy.double() / 255, truth.double() / 255, 3)
    assert as_uint8["proxy_mse"] == pytest.approx(as_float["proxy_mse"])
    with pytest.raises(ValueError, match="differ"):
        frame_prediction_errors(truth[:, :5], truth, 2)
    with pytest.raises(ValueError, match="context"):
        frame_prediction_errors(truth, truth, 6)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        frame_prediction_errors(truth.float() * 2, truth.float(), 2)


def test_digit_frame_features_resize_each_frame_to_32x32() -> None:
    """Each 64x64 frame gives one 128-d feature row: the classifier on its 32x32 area-downsized copy."""
    torch.manual_seed(0)
    classifier = DigitClassifier().eval()
    videos = torch.rand(2, 3, 1, 64, 64)
    features = digit_frame_features(classifier, videos)
    assert features.shape == (6, 128)
    small = videos[1, 2].view(1, 1, 32, 2, 32, 2).mean(dim=(3, 5))  # 2x2 block means
    with torch.no_grad():
        expected = classifier.features(small).double().numpy()
    np.testing.assert_allclose(features[5:6], expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="grey"):
        digit_frame_features(classifier, torch.rand(1, 2, 3, 64, 64))


def test_digit_frechet_is_zero_for_the_same_frames_and_labelled_a_proxy() -> None:
    """The per-frame digit distance is 0 between identical sets; the combined result names it a proxy."""
    torch.manual_seed(0)
    classifier = DigitClassifier().eval()
    clips = torch.rand(3, 4, 1, 32, 32)
    assert digit_frame_frechet(classifier, clips, clips) == pytest.approx(0.0, abs=1e-9)
    result = evaluate_frame_prediction(clips, clips, 2, classifier)
    assert result["proxy_digit_frame_frechet"] == pytest.approx(0.0, abs=1e-9)
    assert "proxy" in result["proxy_digit_frame_label"] and "not FVD" in result["proxy_digit_frame_label"]
    assert all(key.startswith("proxy_") for key in result if "mse" in key or "ssim" in key)
