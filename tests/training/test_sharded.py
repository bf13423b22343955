"""FSDP2 (`--shard`): 2 gloo processes train like one, and their DCP checkpoint resumes anywhere."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rin.checkpoints import is_sharded, load_checkpoint_weights, load_model
from rin.configs import apply_overrides, get_preset
from rin.model import RIN
from rin.training import find_checkpoint, load_state, train
from rin.training.checkpoint import write_manifest
from rin.training.sharded import export_weights

SETTINGS = ["train.steps=3", "train.batch_size=8", "train.num_samples=1", "train.sample_steps=1"]
LAUNCH = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]


def _torchrun(out: Path, *extra: str) -> None:
    sets = [arg for s in SETTINGS for arg in ("--set", s)]
    command = [*LAUNCH, "-m", "rin", "train", "--preset", "tiny", "--out", str(out), "--no-progress", *sets]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [*command, *extra], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]


def _assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=5e-5, msg=name)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """A 2-process --shard run (grad_accum 2) and a 1-process run of the same 3 steps (checkpoints 2, 3)."""
    root = tmp_path_factory.mktemp("sharded")
    _torchrun(root / "sharded", "--shard", "--set", "train.grad_accum=2")  # 2 micro-batches of 2 per rank
    train(apply_overrides(get_preset("tiny"), SETTINGS), root / "one", progress=False)
    return {"sharded": root / "sharded", "one": root / "one"}


def _weights(checkpoint: Path, tmp_path: Path) -> dict[str, torch.Tensor]:
    if is_sharded(checkpoint):
        export_weights(checkpoint, tmp_path / "export")
        return load_file(str(tmp_path / "export" / "model.safetensors"))
    return load_file(str(checkpoint / "model.safetensors"))


def test_fsdp_on_two_processes_equals_one_process(runs, tmp_path):
    """fully_shard on 2 gloo ranks (self-conditioning on) trains the weights 1 process trains, batch 8."""
    checkpoint = find_checkpoint(runs["sharded"], verify=True)
    assert is_sharded(checkpoint) and load_state(checkpoint)["layout"] == "sharded"
    assert len(list((checkpoint / "dcp").glob("*.distcp"))) == 2  # one shard file per rank
    _assert_same_weights(_weights(checkpoint, tmp_path), _weights(find_checkpoint(runs["one"]), tmp_path))


def test_sharded_checkpoint_resumes_on_one_process(runs, tmp_path):
    """The 2-rank DCP checkpoint of step 2 resumes in 1 process (resharded) and reaches the same step 3."""
    resumed = train(apply_overrides(get_preset("tiny"), SETTINGS), tmp_path / "resumed", progress=False,
                    resume=runs["sharded"] / "checkpoints" / "step_00000002")  # fmt: skip
    assert resumed.step == 3
    one = load_file(str(find_checkpoint(runs["one"]) / "model.safetensors"))
    _assert_same_weights({k: v.detach() for k, v in resumed.model.state_dict().items()}, one)


def test_sampling_reads_the_sharded_ema_weights(runs):
    """`load_checkpoint_weights` gives the same EMA tensors from DCP shards as the unsharded run saved."""
    model = RIN(get_preset("tiny").model)
    load_checkpoint_weights(model, find_checkpoint(runs["sharded"]), "ema")
    one = load_file(str(find_checkpoint(runs["one"]) / "ema.safetensors"))
    _assert_same_weights({k: v.detach() for k, v in model.state_dict().items()}, one)


def test_export_of_a_sharded_checkpoint_loads_with_from_pretrained(runs, tmp_path):
    """`export_pretrained` of a DCP checkpoint writes the EMA weights the unsharded run saved."""
    from rin.training.export import export_pretrained

    folder = export_pretrained(runs["sharded"], tmp_path / "pretrained")
    model = RIN.from_pretrained(folder)
    one = load_file(str(find_checkpoint(runs["one"]) / "ema.safetensors"))
    _assert_same_weights({k: v.detach() for k, v in model.state_dict().items()}, one)


def test_corrupt_shard_falls_back_to_the_older_checkpoint(runs, tmp_path):
    """A flipped byte in a DCP shard fails verification; resume picks the previous sharded checkpoint."""
    run = tmp_path / "run"
    shutil.copytree(runs["sharded"], run)
    shard = sorted((run / "checkpoints" / "step_00000003" / "dcp").glob("*.distcp"))[0]
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match="skipping incomplete or corrupt checkpoint"):
        assert find_checkpoint(run, verify=True).name == "step_00000002"


def test_truncated_shard_under_a_resigned_manifest_falls_back(runs, tmp_path):
    """A truncated DCP shard whose manifest was re-signed (so checksums pass) fails to load; resuming
    the run warns and continues from the previous checkpoint instead of a CheckpointException traceback."""
    run = tmp_path / "run"
    shutil.copytree(runs["sharded"], run)
    newest = run / "checkpoints" / "step_00000003"
    shard = sorted((newest / "dcp").glob("*.distcp"))[0]
    shard.write_bytes(shard.read_bytes()[:100])
    write_manifest(newest, [n for n in json.loads((newest / "manifest.json").read_text())["files"]], 3,
                   layout="sharded")  # fmt: skip
    assert find_checkpoint(run, verify=True).name == "step_00000003"  # the checksum gate passes
    with pytest.warns(
        UserWarning, match=r"skipping checkpoint .*step_00000003 that does not load .*step_00000002"
    ):
        resumed = train(apply_overrides(get_preset("tiny"), SETTINGS), run, resume="auto", progress=False)
    assert resumed.step == 3
    one = load_file(str(find_checkpoint(runs["one"]) / "model.safetensors"))
    _assert_same_weights({k: v.detach() for k, v in resumed.model.state_dict().items()}, one)


@pytest.mark.slow
def test_full_checkpoint_resumes_sharded_on_two_processes(runs, tmp_path):
    """A 1-process safetensors checkpoint resumes under --shard on 2 ranks and matches the 1-process run."""
    _torchrun(tmp_path / "two", "--shard", "--resume", str(runs["one"] / "checkpoints" / "step_00000002"))
    _assert_same_weights(_weights(find_checkpoint(tmp_path / "two"), tmp_path),
                         load_file(str(find_checkpoint(runs["one"]) / "model.safetensors")))  # fmt: skip


def test_load_model_reads_sharded_and_full_checkpoints_alike(runs):
    """`load_model` gives the same model and config from the DCP run as from the 1-process run."""
    sharded, sharded_config = load_model(runs["sharded"])
    full, full_config = load_model(runs["one"])
    assert sharded_config.model == full_config.model
    assert not sharded.training and not full.training
    _assert_same_weights(sharded.state_dict(), full.state_dict())
