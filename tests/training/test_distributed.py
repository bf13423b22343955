"""Data parallelism: 2 gloo processes equal one process with the same global batch; accumulation too."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from rin.configs import apply_overrides
from rin.data import load_mnist
from rin.diffusion import diffusion_loss, draw_step_noise
from rin.errors import TrainingError
from rin.model import RIN
from rin.training import find_checkpoint, train
from rin.training.distributed import World, micro_batch_rows, micro_batch_size

SETTINGS = ["train.steps=3", "train.batch_size=8", "train.num_samples=1", "train.sample_steps=1"]


def test_rank_slices_are_disjoint_and_cover_the_batch():
    """For 2 ranks x 2 micro-batches, the rows of all micro-batches partition the global batch."""
    rows = []
    for rank in range(2):
        micro = micro_batch_size(8, World(rank=rank, size=2), 2)
        for index in range(2):
            block = micro_batch_rows(World(rank=rank, size=2), 2, index, micro)
            rows.extend(range(block.start, block.stop))
    assert sorted(rows) == list(range(8)) and len(set(rows)) == 8


def test_uneven_split_is_a_one_line_error():
    """A global batch that does not split over ranks x accumulation is refused, naming the fix."""
    with pytest.raises(TrainingError, match="multiple of 6"):
        micro_batch_size(8, World(rank=0, size=3), 2)


def test_sliced_noise_gives_the_whole_batch_loss(tiny_config):
    """Per-example losses of two halves, each with its slice of the step's draws, equal the whole batch's."""
    model = RIN(tiny_config.model).eval()
    x0 = torch.rand(6, 1, 32, 32) * 2 - 1
    labels = torch.arange(6)
    noise = draw_step_noise(tuple(x0.shape), tiny_config.diffusion)
    whole = diffusion_loss(model, x0, labels, tiny_config.diffusion, noise=noise).per_example
    halves = [diffusion_loss(model, x0[a:b], labels[a:b], tiny_config.diffusion, noise=noise.select(a, b))
              for a, b in ((0, 3), (3, 6))]  # fmt: skip
    torch.testing.assert_close(torch.cat([h.per_example for h in halves]), whole)


def test_gradient_accumulation_gives_the_full_batch_gradient(tiny_config):
    """The accumulated gradient over 4 micro-batches of 2 equals the gradient of one batch of 8."""
    from rin.training.loop import _accumulate

    x0, labels = torch.rand(8, 1, 32, 32) * 2 - 1, torch.arange(8)
    noise = draw_step_noise(tuple(x0.shape), tiny_config.diffusion)
    grads, losses = [], []
    for accum in (1, 4):
        torch.manual_seed(0)
        model = RIN(tiny_config.model)
        config = apply_overrides(tiny_config, [*SETTINGS, f"train.grad_accum={accum}"])
        losses.append(_accumulate(model, x0, labels, noise, config, World(), 8 // accum))
        grads.append([p.grad.clone() for p in model.parameters()])
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_gradient_accumulation_trains_like_the_full_batch(tiny_config, tmp_path):
    """grad_accum=4 over micro-batches of 2 trains the same weights as one batch of 8 (float tolerance)."""
    digits = load_mnist("train").subset(list(range(0, 4000, 40)))
    config = apply_overrides(tiny_config, SETTINGS)
    full = train(config, tmp_path / "full", data=digits, progress=False)
    accumulated = train(apply_overrides(config, ["train.grad_accum=4"]), tmp_path / "acc", data=digits,
                        progress=False)  # fmt: skip
    for a, b in zip(full.model.state_dict().values(), accumulated.model.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=5e-5)  # weights ~0.1; round-off only


def _cli(out, *extra):
    sets = [arg for s in SETTINGS for arg in ("--set", s)]
    return ["-m", "rin", "train", "--preset", "tiny", "--out", str(out), "--no-progress", *sets, *extra]


def test_two_gloo_processes_equal_one_process(tmp_path):
    """torchrun with 2 CPU processes (DDP, gloo, self-conditioning on) matches 1 process, batch 8,
    and no rank prints torch's `broadcast_buffers` deprecation warning."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    two = subprocess.run([*launcher, *_cli(tmp_path / "two")], env=env, capture_output=True, text=True,
                         timeout=300, check=False)  # fmt: skip
    assert two.returncode == 0, two.stderr[-2000:]
    assert "broadcast_buffers" not in two.stderr, two.stderr[-2000:]
    one = subprocess.run([sys.executable, *_cli(tmp_path / "one")], env=env, capture_output=True, text=True,
                         timeout=300, check=False)  # fmt: skip
    assert one.returncode == 0, one.stderr[-2000:]
    a = load_file(str(find_checkpoint(tmp_path / "two") / "model.safetensors"))
    b = load_file(str(find_checkpoint(tmp_path / "one") / "model.safetensors"))
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=5e-5, msg=name)
    logs = {}
    for run in ("one", "two"):
        lines = (tmp_path / run / "metrics.jsonl").read_text().splitlines()
        logs[run] = [json.loads(line) for line in lines]
    losses = {run: [e["loss"] for e in events if e["event"] == "train"] for run, events in logs.items()}
    assert losses["two"] == pytest.approx(losses["one"], rel=1e-5)  # same data and draws, step by step
    start = next(e for e in logs["two"] if e["event"] == "start")
    assert (start["world_size"], start["global_batch"], start["micro_batch"]) == (2, 8, 4)


def test_distributed_sampling_equals_one_process(tmp_path):
    """`torchrun --nproc-per-node 2 -m rin sample --npz` gathers the same .npz a single process writes."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def run(*command: str) -> None:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr[-2000:]

    checkpoint = tmp_path / "run"
    run(sys.executable, *_cli(checkpoint))
    # --num-samples: torchrun's own parser would take --num for its --numa-binding
    sample = ["-m", "rin", "sample", "--checkpoint", str(checkpoint), "--num-samples", "5", "--steps", "2",
              "--shard-size", "2", "--batch-size", "2", "--no-progress"]  # fmt: skip
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    run(*launcher, *sample, "--npz", str(tmp_path / "two.npz"), "--out", str(tmp_path / "two.png"))
    run(sys.executable, *sample, "--npz", str(tmp_path / "one.npz"), "--out", str(tmp_path / "one.png"))
    a, b = np.load(tmp_path / "two.npz"), np.load(tmp_path / "one.npz")
    assert a["arr_0"].shape == (5, 32, 32, 1)
    assert np.array_equal(a["arr_0"], b["arr_0"]) and np.array_equal(a["arr_1"], b["arr_1"])
