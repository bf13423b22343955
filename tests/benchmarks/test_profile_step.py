"""Tests of the step profiler's op accounting (benchmarks/profile_step.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from profile_step import CPUTimeByOp, build_step, op_kind  # noqa: E402


def test_op_kinds_of_the_ops_a_step_runs():
    """GEMMs, attention kernels, casts, dropout, norms and activations land in their own kinds."""
    assert op_kind("aten::addmm") == op_kind("aten::bmm") == "GEMM"
    assert op_kind("aten::_scaled_dot_product_flash_attention_for_cpu_backward") == "attention"
    assert op_kind("aten::_to_copy") == "casts"
    assert op_kind("aten::random_") == "dropout"
    assert op_kind("aten::native_layer_norm_backward") == "layernorm"
    assert op_kind("aten::_softmax") == "softmax"
    assert op_kind("aten::gelu_backward") == "gelu"
    assert op_kind("aten::add") == "other"


def test_cpu_time_mode_counts_every_op_of_each_phase():
    """The dispatch mode sees the forward and backward ops of a step, phase by phase."""
    mode = CPUTimeByOp()
    step = build_step("tiny", 2, False, [], mode)
    with mode:
        step()
    phases = {phase for phase, _ in mode.calls}
    assert {"pass 1", "pass 2 forward", "backward", "optimizer"} <= phases
    assert mode.calls[("pass 1", "aten::addmm")] == mode.calls[("pass 2 forward", "aten::addmm")] > 0
    assert mode.calls[("backward", "aten::mm")] > 0
    assert all(ns >= 0 for ns in mode.ns.values())
    assert torch.is_grad_enabled()
