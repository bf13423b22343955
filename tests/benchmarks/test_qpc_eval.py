"""Tests of quality-per-compute sampling, peer adapters and scoring (benchmarks/qpc_eval.py, qpc_peers.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from qpc_eval import Scorer, balanced_subset, draw_samples  # noqa: E402
from qpc_peers import PeerDenoiser, PeerNet, cosine_time  # noqa: E402

from rin.configs.experiment import SamplingConfig  # noqa: E402
from rin.data.imageset import ImageSet  # noqa: E402
from rin.diffusion.parameterization import add_noise  # noqa: E402
from rin.diffusion.schedules import simple_cosine_gamma  # noqa: E402
from rin.model.embeddings import NULL_LABEL  # noqa: E402


def test_cosine_time_inverts_the_cosine_schedule():
    """The peers' timestep t recovered from gamma is the t that gave it."""
    t = torch.linspace(0.0, 1.0, 101, dtype=torch.float64)
    torch.testing.assert_close(cosine_time(simple_cosine_gamma(t)), t, atol=1e-6, rtol=0)


class EpsOracle(torch.nn.Module):
    """A peer network that knows x0: it returns the exact eps of x_t, or zeros for "no label"."""

    def __init__(self, x0: torch.Tensor) -> None:
        super().__init__()
        self.x0 = x0

    def forward(self, x_t, timestep, index):
        gamma = simple_cosine_gamma(timestep / 1000.0).view(-1, 1, 1, 1)
        eps = (x_t - gamma.sqrt() * self.x0.repeat(len(x_t) // len(self.x0), 1, 1, 1)) / (1 - gamma).sqrt()
        return torch.where((index == 10).view(-1, 1, 1, 1), torch.zeros_like(eps), eps)


def test_peer_denoiser_maps_eps_to_x0_and_guides_like_rin():
    """Without guidance an eps oracle gives x0 back; with w, the outputs mix as (1 + w) cond - w uncond."""
    x0 = torch.rand(3, 1, 4, 4) * 2 - 1
    net = PeerNet(EpsOracle(x0), 10, lambda net, x, t, i: net(x, t, i))
    gamma = torch.full((3,), 0.3)
    x_t = add_noise(x0, gamma, torch.randn_like(x0))
    torch.testing.assert_close(PeerDenoiser(net, "eps", torch.tensor([1, 2, 3]), 0.0)(x_t, gamma), x0)
    guided = PeerDenoiser(net, "eps", torch.tensor([1, 2, 3]), 2.0)(x_t, gamma)
    eps = (x_t - gamma.sqrt().view(-1, 1, 1, 1) * x0) / (1 - gamma).sqrt().view(-1, 1, 1, 1)
    expected = (x_t - (1 - gamma).sqrt().view(-1, 1, 1, 1) * 3 * eps) / gamma.sqrt().view(-1, 1, 1, 1)
    torch.testing.assert_close(guided, expected)


def test_peer_net_maps_no_label_to_the_extra_class():
    """rin's NULL_LABEL reaches the peer as index num_classes; other labels pass unchanged."""
    seen = []
    net = PeerNet(torch.nn.Identity(), 10, lambda net, x, t, i: seen.append(i) or x)
    net(torch.zeros(2, 1, 2, 2), torch.full((2,), 0.5), torch.tensor([NULL_LABEL, 4]))
    assert seen[0].tolist() == [10, 4]


def test_draw_samples_counts_network_calls_and_ignores_batch_size():
    """Guidance makes each step two network evaluations; per-sample noise makes batches irrelevant."""
    sampling = SamplingConfig(sampler="ddpm", steps=6, guidance=1.0, time_difference=1.0)
    labels = torch.arange(5) % 3

    def make(batch_labels):  # a denoiser that shrinks x_t towards a label-dependent value
        return lambda x_t, gamma: 0.5 * x_t + batch_labels.view(-1, 1, 1, 1) / 3

    whole, calls = draw_samples(make, (1, 4, 4), labels, sampling, 1.0, seed=3, batch_size=5)
    pieces, _ = draw_samples(make, (1, 4, 4), labels, sampling, 1.0, seed=3, batch_size=2)
    assert calls == 12
    torch.testing.assert_close(whole, pieces)
    assert whole.shape == (5, 1, 4, 4) and 0 <= whole.min() and whole.max() <= 1


def test_balanced_subset_follows_the_labels():
    """Each drawn real image has the class asked for; a pool too small for a class is refused."""
    pool = ImageSet(torch.arange(12, dtype=torch.uint8).view(12, 1, 1, 1).repeat(1, 1, 2, 2),
                    torch.arange(12) % 3, ["a", "b", "c"])  # fmt: skip
    labels = torch.tensor([2, 0, 2, 1])
    images = balanced_subset(pool, labels, seed=0)
    assert (images[:, 0, 0, 0].long() % 3).tolist() == labels.tolist()
    assert len(set(images[:, 0, 0, 0].tolist())) == 4  # without replacement
    with pytest.raises(ValueError, match="class 0"):
        balanced_subset(pool, torch.zeros(5, dtype=torch.long), seed=0)


def test_scorer_floor_of_a_perfect_extractor():
    """With an extractor that reads the class from the pixels, samples equal to real images score
    accuracy 1; the floor reports the held-out accuracy and a finite Frechet distance."""
    pixels = torch.randint(0, 256, (40, 1, 2, 2), dtype=torch.uint8)
    labels = torch.arange(40) % 4
    pixels[:, 0, 0, 0] = labels.to(torch.uint8) * 60

    def extract(images):
        classes = (images[:, 0, 0, 0] * 255 / 60).round().long()
        jitter = np.random.default_rng(0).normal(0, 1e-3, (len(images), 4))  # a non-singular covariance
        return images.flatten(1).double().numpy() + jitter, classes

    scorer = Scorer("toy", extract, ImageSet(pixels[:20], labels[:20], list("abcd")),
                    ImageSet(pixels[20:], labels[20:], list("abcd")))  # fmt: skip
    assert scorer.heldout_accuracy == 1.0
    scores = scorer.score(pixels[20:].float() / 255, labels[20:])
    assert scores["accuracy"] == 1.0 and scores["variety"] > 0
    floor = scorer.floor(labels[:8], seed=0)
    assert floor["accuracy"] == 1.0 and np.isfinite(floor["frechet"])
