"""The forward process and the training objective: schedules, targets, input scaling, loss.

t in [0, 1] (0 = data, 1 = noise); gamma = signal variance; x_t = sqrt(gamma) x0 + sqrt(1-gamma) eps.
"""

from rin.diffusion.losses import (
    LossOutput,
    StepNoise,
    diffusion_loss,
    draw_step_noise,
    self_conditioning_latents,
)
from rin.diffusion.parameterization import Prediction, add_noise, eps_from_x0, to_eps, to_x0, training_target
from rin.diffusion.scaling import network_input, normalize_per_example
from rin.diffusion.schedules import GAMMA_MIN, get_schedule

__all__ = [
    "GAMMA_MIN",
    "LossOutput",
    "Prediction",
    "add_noise",
    "diffusion_loss",
    "eps_from_x0",
    "get_schedule",
    "network_input",
    "normalize_per_example",
    "self_conditioning_latents",
    "StepNoise",
    "draw_step_noise",
    "to_eps",
    "to_x0",
    "training_target",
]
