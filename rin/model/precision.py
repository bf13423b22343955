"""Whether bf16 autocast can pay off on a device.

bf16 autocast only speeds a CPU up when oneDNN has hardware bf16 matmuls (AVX-512 BF16 or AMX).
Without them (e.g. AVX2-only Zen 3) torch falls back to a reference bf16 GEMM that measured
10-100x slower than fp32 MKL sgemm on this project's CPU (benchmarks/README.md), which made the
`mnist` preset ~12x slower in bf16 than in fp32.
"""

from __future__ import annotations

import torch


def cpu_has_native_bf16() -> bool:
    """True when this CPU runs bf16 matmuls in hardware (AVX-512 BF16 or AMX tiles)."""
    checks = (
        getattr(torch.cpu, "_is_avx512_bf16_supported", None),
        getattr(torch.cpu, "_is_amx_tile_supported", None),
    )
    return any(check is not None and bool(check()) for check in checks)


def bf16_slowdown_warning(device: torch.device | str) -> str | None:
    """A one-line warning if bf16 autocast on `device` would run the slow fallback, else None."""
    if torch.device(device).type != "cpu" or cpu_has_native_bf16():
        return None
    return (
        "bf16 autocast on a CPU without AVX-512 BF16 or AMX runs matmuls in a slow fallback "
        "(~10x slower than fp32 here); drop bf16 on this machine"
    )
