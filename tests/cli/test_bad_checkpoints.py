"""Every kind of bad checkpoint gets a one-line error from the CLI, and planted code never runs.

Each case tampers with a real checkpoint and, like an attacker would, re-signs its manifest so
the checksum gate alone does not catch it: the loaders themselves must refuse.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from rin.cli.main import main


class _Exploit:
    def __reduce__(self):
        return (os.system, (f"touch {os.environ['RIN_EXPLOIT_MARK']}",))


@pytest.fixture(scope="module")
def good_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("good")
    code = main(["train", "--preset", "tiny", "--steps", "1", "--out", str(run), "--no-progress",
                 "--set", "train.num_samples=1", "--set", "train.sample_steps=1"])  # fmt: skip
    assert code == 0
    return run


def _copy(good_run: Path, tmp_path: Path) -> Path:
    checkpoint = tmp_path / "ckpt"
    checkpoint.mkdir()
    for file in (good_run / "checkpoints" / "step_00000001").iterdir():
        (checkpoint / file.name).write_bytes(file.read_bytes())
    return checkpoint


def _resign(checkpoint: Path) -> None:
    manifest = json.loads((checkpoint / "manifest.json").read_text())
    for name, info in manifest["files"].items():
        data = (checkpoint / name).read_bytes()
        info.update(size=len(data), sha256=hashlib.sha256(data).hexdigest())
    (checkpoint / "manifest.json").write_text(json.dumps(manifest))


def _truncate(checkpoint: Path) -> None:
    path = checkpoint / "model.safetensors"
    path.write_bytes(path.read_bytes()[:200])


def _reshape(checkpoint: Path) -> None:
    weights = load_file(str(checkpoint / "model.safetensors"))
    weights["latents"] = torch.zeros(3, 3)
    save_file(weights, str(checkpoint / "model.safetensors"))


def _pickle_bomb(checkpoint: Path) -> None:
    with (checkpoint / "state.pt").open("wb") as handle:
        pickle.dump({"format_version": 1, "step": 1, "x": _Exploit()}, handle)


def _text_weights(checkpoint: Path) -> None:
    (checkpoint / "model.safetensors").write_text("this is not a tensor file")


def _foreign(checkpoint: Path) -> None:
    save_file({"conv1.weight": torch.zeros(8, 3, 3, 3)}, str(checkpoint / "model.safetensors"))


def _bad_config(checkpoint: Path) -> None:
    (checkpoint / "config.json").write_text('{"model": {"patch_size": "big"}}')


CASES = {
    "truncated weights": (_truncate, "not a readable safetensors file"),
    "changed tensor shape": (_reshape, "tensor latents is (3, 3)"),
    "pickle that runs code": (_pickle_bomb, "not a valid rin training state"),
    "text instead of weights": (_text_weights, "not a readable safetensors file"),
    "another model's weights": (_foreign, "is missing"),
    "config of wrong types": (_bad_config, "not a valid rin config"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_checkpoint_gives_one_line_error(case, good_run, tmp_path, monkeypatch, capsys):
    """`rin train --resume` on a tampered (re-signed) checkpoint exits 2 with one line; no code runs."""
    tamper, message = CASES[case]
    mark = tmp_path / "pwned"
    monkeypatch.setenv("RIN_EXPLOIT_MARK", str(mark))
    checkpoint = _copy(good_run, tmp_path)
    tamper(checkpoint)
    _resign(checkpoint)
    code = main(["train", "--preset", "tiny", "--steps", "2", "--out", str(tmp_path / "run"), "--resume",
                 str(checkpoint), "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and len(err.splitlines()) == 1, err
    assert not mark.exists()


def test_unsigned_tampering_is_caught_by_the_checksum(good_run, tmp_path, capsys):
    """Changing a file without fixing the manifest is reported as a corrupt checkpoint by `rin sample`."""
    checkpoint = _copy(good_run, tmp_path)
    _reshape(checkpoint)
    assert main(["sample", "--checkpoint", str(checkpoint), "--num", "1", "--no-progress"]) == 2
    assert "incomplete or corrupt" in capsys.readouterr().err
