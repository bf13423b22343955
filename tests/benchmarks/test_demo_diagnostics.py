"""benchmarks/demo_diagnostics.py: the guidance interval switches by noise level; the list of damages."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from demo_diagnostics import IntervalGuidance, perturbations  # noqa: E402

from rin.configs import get_preset  # noqa: E402
from rin.model import RIN  # noqa: E402


def level(sigma: float, batch: int = 2) -> torch.Tensor:
    """gamma (B,) of EDM sigma: gamma = 1 / (1 + sigma^2)."""
    return torch.full((batch,), 1.0 / (1.0 + sigma * sigma))


def test_interval_guides_only_at_or_below_sigma_max():
    """Above sigma_max the call is unguided (equal to w=0), below it guided (differs from w=0)."""
    torch.manual_seed(0)
    model = RIN(get_preset("tiny").model).eval()
    labels, x = torch.tensor([1, 2]), torch.randn(2, 1, 32, 32)

    def once(weight: float, sigma_max: float, sigma: float) -> torch.Tensor:
        denoise = IntervalGuidance(model, "x0", labels=labels, weight=weight, sigma_max=sigma_max)
        return denoise(x, level(sigma))

    assert torch.equal(once(3.0, 2.0, 4.0), once(0.0, 2.0, 4.0))  # above: guidance off
    assert not torch.allclose(once(3.0, 2.0, 1.0), once(0.0, 2.0, 1.0))  # below: guidance on


def test_every_damage_changes_the_digits_and_the_floor_is_untouched():
    """Each perturbation changes digits (same shape); the floor entry is the identity."""
    x = torch.rand(4, 1, 32, 32)
    damages = perturbations(torch.Generator().manual_seed(0))
    assert torch.equal(damages["real digits (floor)"](x), x)
    for name, damage in damages.items():
        out = damage(x)
        assert out.shape == x.shape, name
        if name != "real digits (floor)":
            assert not torch.equal(out, x), name


def test_weights_and_interval_ask_for_the_right_guidance_settings(monkeypatch):
    """`weights` guides everywhere at each weight; `interval`: the run's weight everywhere, then below."""
    import demo_diagnostics

    asked = []
    monkeypatch.setattr(
        demo_diagnostics, "_guided_samples", lambda run, overrides, settings, num: asked.append(settings)
    )
    monkeypatch.setattr(demo_diagnostics, "load_model", lambda run: (None, get_preset("mnist")))
    demo_diagnostics.weights("RUN", [1.0, 1.5], {})
    demo_diagnostics.interval("RUN", 2.0, {})
    inf = float("inf")
    assert asked == [[(1.0, inf), (1.5, inf)], [(2.0, inf), (2.0, 2.0)]]
