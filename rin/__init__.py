"""rin: Recurrent Interface Networks (Jabri, Fleet & Chen, ICML 2023) for images.

Layout: `rin.model` (the network), `rin.diffusion` (schedules, targets, loss),
`rin.sampling` (DDPM/DDIM over a `denoise` function), `rin.data`, `rin.training`,
`rin.evaluation`, `rin.configs` (typed presets), `rin.cli`.
"""

__version__ = "0.1.0"
