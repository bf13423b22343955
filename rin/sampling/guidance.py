"""Classifier-free guidance (Ho & Salimans 2022), as the official sampler combines it.

pix2seq `Scheduler.generate` runs the denoiser twice per step, once with the labels and once with
the "no label" code, on the same inputs and the same carried latents, and mixes the raw network
outputs before x0 clipping: out = (1 + w) * cond - w * uncond. Only the conditional pass's latents
are carried to the next step. RIN itself uses w = 0 (no guidance); w > 0 needs a model trained
with label dropout (`diffusion.cond_dropout`).

All three parameterisations (eps, x0, v) map to x0 affinely in the output for fixed x_t and gamma,
so mixing outputs equals mixing the x0 predictions.
"""

from __future__ import annotations

import torch

from rin.model.embeddings import NULL_LABEL


def classifier_free_guidance(cond: torch.Tensor, uncond: torch.Tensor, scale: float) -> torch.Tensor:
    """(1 + w) * cond - w * uncond; w = 0 returns `cond` unchanged."""
    if scale == 0.0:
        return cond
    return (1.0 + scale) * cond - scale * uncond


def with_null_labels(labels: torch.Tensor) -> torch.Tensor:
    """labels (B,) -> (2B,): the labels, then as many "no label" entries (one batched forward)."""
    return torch.cat([labels, torch.full_like(labels, NULL_LABEL)])
