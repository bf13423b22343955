"""Tests of the bf16 hardware check that warns before a slow bf16 autocast on CPU."""

from __future__ import annotations

import torch

from rin.model.precision import bf16_slowdown_warning, cpu_has_native_bf16


def test_warns_on_cpu_without_native_bf16(monkeypatch):
    """A CPU without AVX-512 BF16 or AMX gets a one-line warning; one with either gets none."""
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert not cpu_has_native_bf16()
    message = bf16_slowdown_warning("cpu")
    assert message is not None and "\n" not in message and "bf16" in message
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    assert cpu_has_native_bf16()
    assert bf16_slowdown_warning("cpu") is None


def test_no_warning_off_cpu(monkeypatch):
    """Accelerators are not judged by the CPU's instruction set."""
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert bf16_slowdown_warning(torch.device("cuda", 0)) is None
