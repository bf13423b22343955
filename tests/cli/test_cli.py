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


@pytest.fixture(scope="module")
def one_step_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("one_step")
    code = main(["train", "--preset", "tiny", "--steps", "1", "--out", str(run), "--no-progress",
                 "--set", "train.num_samples=1", "--set", "train.sample_steps=1"])  # fmt: skip
    assert code == 0
    return run


def test_train_out_that_is_a_file_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    """`rin train --out FILE` and `--out FILE/run` exit 2 with one line, before data or model load."""
    import rin.training.loop as loop_module

    def no_data(*args, **kwargs):
        raise AssertionError("data was loaded before the run directory was checked")

    monkeypatch.setattr(loop_module, "load_dataset", no_data)
    (tmp_path / "file").write_text("keep me")
    for out, message in ((tmp_path / "file", "is a file"), (tmp_path / "file" / "run", "which is a file")):
        assert main(["train", "--preset", "tiny", "--out", str(out), "--no-progress"]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
    assert (tmp_path / "file").read_text() == "keep me"


def test_train_on_a_full_disk_stops_before_config_json(tmp_path, capsys, monkeypatch):
    """A full disk at start (simulated) exits 2 with the system's reason instead of an ENOSPC traceback."""
    import errno
    import os

    import rin.runtime.run_dir as run_dir_module

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(run_dir_module.os, "fsync", full)
    assert main(["train", "--preset", "tiny", "--out", str(tmp_path / "run"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("is not writable: No space left on device") and len(err.splitlines()) == 1
    assert not (tmp_path / "run" / "config.json").exists()


def test_sample_out_under_a_file_is_refused_before_sampling(one_step_run, tmp_path, capsys):
    """`rin sample --out` or `--npz` under a file exit 2 with one line naming the option."""
    (tmp_path / "file").write_text("x")
    for option in ("--out", "--npz"):
        argv = ["sample", "--checkpoint", str(one_step_run), "--num", "1", "--steps", "1", "--no-progress",
                option, str(tmp_path / "file" / "x")]  # fmt: skip
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert f"the directory of {option}" in err and "is a file, not a directory" in err, err
        assert len(err.splitlines()) == 1


@pytest.mark.parametrize(
    "argv",
    [["--preset", "mnist", "--data", "/nonexistent"], ["--preset", "moving-mnist", "--data", "/x"],
     ["--preset", "mnist", "--set", "data.path=/nonexistent"]],
)  # fmt: skip
def test_data_path_ignored_by_the_data_set_is_refused(argv, tmp_path, capsys):
    """--data (or data.path) with a built-in data set that ignores it exits 2, naming the data used."""
    assert main(["train", *argv, "--steps", "0", "--out", str(tmp_path / "run"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        "is not used by data.dataset=" in err
        and "built-in MNIST digits" in err
        and len(err.splitlines()) == 1
    )
    assert not (tmp_path / "run").exists()


def test_train_says_which_preset_and_data_it_chose(tmp_path, capsys):
    """`rin train` without --preset prints that it chose the default preset, and the data it uses."""
    assert main(["train", "--steps", "0", "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("rin train: preset mnist (the default; choose with --preset)")
    assert "data: the built-in MNIST digits" in first


def test_sample_set_of_a_replaced_checkpoint_is_refused(one_step_run, tmp_path, capsys):
    """Resuming a --npz sample set after the checkpoint at the same path was replaced by another
    model's exits 2 instead of mixing shards of two models (the set is keyed by the manifest hash)."""
    import shutil

    other = tmp_path / "other"
    code = main(["train", "--preset", "tiny", "--steps", "1", "--out", str(other), "--no-progress",
                 "--set", "train.seed=1", "--set", "train.num_samples=1",
                 "--set", "train.sample_steps=1"])  # fmt: skip
    assert code == 0
    checkpoint = tmp_path / "ckpt"
    shutil.copytree(one_step_run / "checkpoints" / "step_00000001", checkpoint)
    argv = ["sample", "--checkpoint", str(checkpoint), "--num", "2", "--steps", "1", "--shard-size", "1",
            "--npz", str(tmp_path / "s.npz"), "--out", str(tmp_path / "s.png"), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    shutil.rmtree(checkpoint)
    shutil.copytree(other / "checkpoints" / "step_00000001", checkpoint)
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "were drawn with other settings" in err and len(err.splitlines()) == 1
