"""Tests of the self-conditioned training loss."""

from __future__ import annotations

import dataclasses

import torch

from rin.diffusion import add_noise, diffusion_loss, get_schedule, training_target
from rin.model import RIN


class OracleModel:
    """Returns the true eps for known (x0, eps): the loss must then be zero."""

    def __init__(self, eps: torch.Tensor) -> None:
        self.eps = eps
        self.calls: list[torch.Tensor | None] = []

    def __call__(self, x_t, gamma, labels, prev):
        self.calls.append(prev)
        return self.eps, torch.ones(x_t.shape[0], 2, 3)


def test_oracle_has_zero_loss_and_two_passes(tiny_config):
    """A model that outputs the true eps gets loss 0; pass 1 gets zeros, pass 2 masked latents."""
    x0 = torch.randn(64, 1, 8, 8)
    eps = torch.randn_like(x0)
    oracle = OracleModel(eps)
    out = diffusion_loss(oracle, x0, None, tiny_config.diffusion, eps=eps)
    assert out.loss.item() == 0.0
    assert len(oracle.calls) == 2 and oracle.calls[0] is None
    kept = oracle.calls[1].flatten(1).amax(dim=1)  # 1 where kept, 0 where dropped
    assert set(kept.tolist()) <= {0.0, 1.0}
    assert 0.7 < kept.mean().item() < 1.0  # rate 0.9, per example


def test_rate_zero_runs_one_pass(tiny_config):
    """With self_cond_rate 0 there is no first pass and the previous latents are zeros (None)."""
    config = dataclasses.replace(tiny_config.diffusion, self_cond_rate=0.0)
    x0 = torch.randn(4, 1, 8, 8)
    oracle = OracleModel(torch.zeros_like(x0))
    diffusion_loss(oracle, x0, None, config)
    assert oracle.calls == [None]


def test_loss_is_the_plain_mse_of_the_target(tiny_config):
    """The loss equals mean((target - output)^2) computed by hand for fixed t and eps."""
    model = RIN(tiny_config.model)
    config = dataclasses.replace(tiny_config.diffusion, self_cond_rate=0.0, prediction="v")
    x0 = torch.rand(2, 1, 32, 32) * 2 - 1
    t, eps = torch.tensor([0.3, 0.7]), torch.randn(2, 1, 32, 32)
    labels = torch.tensor([3, 4])
    out = diffusion_loss(model, x0, labels, config, t=t, eps=eps)
    gamma = get_schedule(config.schedule)(t)
    prediction, _ = model(add_noise(x0, gamma, eps), gamma, labels, None)
    expected = (prediction - training_target(x0, eps, gamma, "v")).pow(2).mean()
    torch.testing.assert_close(out.loss, expected)


def test_loss_is_finite_at_the_ends_of_time(tiny_config):
    """t = 0 and t = 1 (gamma clipped) give a finite float32 loss."""
    model = RIN(tiny_config.model)
    x0 = torch.rand(2, 1, 32, 32) * 2 - 1
    out = diffusion_loss(model, x0, torch.tensor([0, 1]), tiny_config.diffusion, t=torch.tensor([0.0, 1.0]))
    assert torch.isfinite(out.loss)


class LabelRecorder:
    """Records the labels each pass receives."""

    def __init__(self) -> None:
        self.labels: list[torch.Tensor] = []

    def __call__(self, x_t, gamma, labels, prev):
        self.labels.append(labels)
        return torch.zeros_like(x_t), torch.zeros(x_t.shape[0], 2, 3)


def test_label_dropout_replaces_labels_by_the_null_label_per_pass(tiny_config):
    """With cond_dropout p, about p of the labels become -1, independently in each pass."""
    config = dataclasses.replace(tiny_config.diffusion, cond_dropout=0.3)
    labels = torch.arange(4000) % 10
    recorder = LabelRecorder()
    diffusion_loss(
        recorder, torch.zeros(4000, 1, 2, 2), labels, config, generator=torch.Generator().manual_seed(0)
    )
    first, second = recorder.labels
    for seen in (first, second):
        dropped = seen == -1
        assert 0.27 < dropped.float().mean().item() < 0.33
        assert torch.equal(seen[~dropped], labels[~dropped])  # the rest are untouched
    assert not torch.equal(first, second)  # drawn independently for the two passes


def test_no_label_dropout_by_default(tiny_config):
    """The faithful preset (cond_dropout 0) passes the labels through unchanged to both passes."""
    labels = torch.arange(64) % 10
    recorder = LabelRecorder()
    diffusion_loss(recorder, torch.zeros(64, 1, 2, 2), labels, tiny_config.diffusion)
    assert all(torch.equal(seen, labels) for seen in recorder.labels)


def test_loss_in_another_space_converts_the_output_first(tiny_config):
    """prediction v with loss x0: the MSE is between x0 = alpha x_t - sigma v_hat and the data x0."""
    model = RIN(tiny_config.model)
    config = dataclasses.replace(tiny_config.diffusion, self_cond_rate=0.0, prediction="v", loss="x0")
    x0 = torch.rand(2, 1, 32, 32) * 2 - 1
    t, eps = torch.tensor([0.3, 0.7]), torch.randn(2, 1, 32, 32)
    labels = torch.tensor([3, 4])
    out = diffusion_loss(model, x0, labels, config, t=t, eps=eps)
    gamma = get_schedule(config.schedule)(t)
    x_t = add_noise(x0, gamma, eps)
    v_hat, _ = model(x_t, gamma, labels, None)
    alpha, sigma = gamma.sqrt().view(-1, 1, 1, 1), (1 - gamma).sqrt().view(-1, 1, 1, 1)
    expected = (alpha * x_t - sigma * v_hat - x0).pow(2).mean()
    torch.testing.assert_close(out.loss, expected)
    # positive control: the loss in the prediction's own space is another number
    own = diffusion_loss(model, x0, labels, dataclasses.replace(config, loss="prediction"), t=t, eps=eps)
    assert abs(own.loss.item() - out.loss.item()) > 1e-3


def test_an_exact_prediction_has_zero_loss_in_every_space(tiny_config):
    """A model returning the true target of its prediction type has loss 0 whatever the loss space."""
    x0 = torch.rand(4, 1, 8, 8) * 2 - 1
    eps, t = torch.randn_like(x0), torch.tensor([0.05, 0.3, 0.6, 0.95])
    gamma = get_schedule(tiny_config.diffusion.schedule)(t)
    for prediction in ("eps", "x0", "v"):
        exact = OracleModel(training_target(x0, eps, gamma, prediction))
        for loss in ("prediction", "eps", "x0", "v"):
            config = dataclasses.replace(tiny_config.diffusion, prediction=prediction, loss=loss)
            out = diffusion_loss(exact, x0, None, config, t=t, eps=eps)
            assert out.loss.item() < 1e-9, (prediction, loss)
