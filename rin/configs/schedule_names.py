"""The grammar of schedule names, torch-free so a config validates them without loading torch.

Gamma schedules (Chen 2023, "On the importance of noise scheduling for diffusion models"):
`linear`, `cosine`, `cosine@s,e,tau`, `sigmoid@s,e,tau`; the curves live in rin.diffusion.
Learning-rate schedules after warm-up: `constant` or `cosine@r`; the curve lives in rin.training.
"""

from __future__ import annotations

import re

from rin.errors import ConfigError

_GAMMA_RE = re.compile(r"^(linear|cosine|(cosine|sigmoid)@[-+0-9.eE]+,[-+0-9.eE]+,[-+0-9.eE]+)$")
_LR_RE = re.compile(r"^(constant|cosine@[0-9.]+)$")


def parse_gamma_schedule(name: str, what: str = "schedule") -> tuple[str, tuple[float, float, float] | None]:
    """Split `kind@start,end,tau` into its kind and numbers; `linear` and `cosine` carry None."""
    if not _GAMMA_RE.match(name):
        raise ConfigError(
            f"{what}: unknown schedule {name!r}; use linear, cosine, cosine@s,e,tau or sigmoid@s,e,tau"
        )
    if "@" not in name:
        return name, None
    kind, args = name.split("@")
    try:
        start, end, tau = (float(v) for v in args.split(","))
    except ValueError:
        raise ConfigError(f"{what}: schedule {name!r} has a malformed number") from None
    if tau <= 0 or end <= start:
        raise ConfigError(f"schedule {name!r} needs start < end and tau > 0")
    if kind == "cosine" and not (0.0 <= start < end <= 1.0):
        raise ConfigError(f"schedule {name!r}: cosine start and end must lie in [0, 1]")
    return kind, (start, end, tau)


def parse_lr_schedule(name: str) -> float | None:
    """The fraction r of `cosine@r`, or None for `constant`."""
    if not _LR_RE.match(name):
        raise ConfigError(f"train.lr_schedule must be constant or cosine@r, got {name!r}")
    if name == "constant":
        return None
    try:
        return float(name.split("@")[1])
    except ValueError:
        raise ConfigError(f"train.lr_schedule must be constant or cosine@r, got {name!r}") from None
