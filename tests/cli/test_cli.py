"""End-to-end tests of the `rin` command on the tiny preset."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from rin.cli.main import main


def test_info_json_for_cifar10(capsys):
    """`rin info --preset cifar10 --json` prints params (30.95M +- 1%) and positive GFLOPs."""
    assert main(["info", "--preset", "cifar10", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert abs(info["params"] - 30.95e6) / 30.95e6 < 0.01
    assert info["gflops_per_image"] > 1.0


def test_train_then_sample(tmp_path, capsys):
    """`rin train` writes a checkpoint; `rin sample` a PNG grid and an .npz; --guidance changes the images."""
    run = tmp_path / "run"
    code = main(["train", "--preset", "tiny", "--steps", "2", "--out", str(run), "--no-progress",
                 "--set", "train.num_samples=2"])  # fmt: skip
    assert code == 0
    png, npz = tmp_path / "grid.png", tmp_path / "s.npz"
    code = main(["sample", "--checkpoint", str(run), "--num", "3", "--steps", "3", "--out", str(png),
                 "--npz", str(npz), "--labels", "4", "--no-progress"])  # fmt: skip
    assert code == 0
    assert Image.open(png).size[0] > 32
    arrays = np.load(npz)
    assert arrays["arr_0"].shape == (3, 32, 32, 1) and arrays["arr_0"].dtype == np.uint8
    assert arrays["arr_1"].tolist() == [4, 4, 4]
    drawn = {}
    for w in ("0", "2"):  # same seed and labels: only the guidance weight differs
        out = tmp_path / f"guided{w}"
        code = main(["sample", "--checkpoint", str(run), "--num", "2", "--steps", "2", "--out", f"{out}.png",
                     "--npz", f"{out}.npz", "--guidance", w, "--labels", "4", "--no-progress"])  # fmt: skip
        assert code == 0 and (tmp_path / f"guided{w}.png").exists()
        drawn[w] = np.load(f"{out}.npz")["arr_0"]
    assert not np.array_equal(drawn["0"], drawn["2"])  # --guidance reaches the sampler


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--preset", "tiny", "--set", "model.patch_size=3"], "does not divide"),
        (["train", "--preset", "cifar10", "--data", "/nonexistent/cifar"], "/nonexistent/cifar"),
        (["train", "--preset", "cifar10"], "data.path"),
        (["sample", "--checkpoint", "/nonexistent/run"], "does not exist"),
        (["info", "--preset", "nope"], "unknown preset"),
        (["train", "--preset", "tiny", "--set", "diffusion.cond_dropout=2"], "cond_dropout"),
    ],
)
def test_bad_input_gives_one_line_error(argv, message, capsys):
    """Bad configs, missing data and missing checkpoints exit 2 with one line on stderr."""
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_python_dash_m_and_help():
    """`python -m rin --help` works (the module entry point)."""
    result = subprocess.run(
        [sys.executable, "-m", "rin", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and "train" in result.stdout
