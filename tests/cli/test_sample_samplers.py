"""`rin sample --sampler NAME --grid G`: every registered sampler from the command line."""

from __future__ import annotations

import numpy as np
import pytest

from rin.cli.main import main
from rin.sampling import SAMPLERS


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("run")
    code = main(["train", "--preset", "tiny", "--steps", "2", "--out", str(run), "--no-progress",
                 "--set", "train.num_samples=2"])  # fmt: skip
    assert code == 0
    return run


def test_help_lists_every_sampler(capsys):
    """`rin sample --help` names every registered sampler."""
    with pytest.raises(SystemExit):
        main(["sample", "--help"])
    out = capsys.readouterr().out
    assert all(name in out for name in SAMPLERS)


def _draw(run, tmp_path, *extra: str) -> np.ndarray:
    npz = tmp_path / f"s{len(list(tmp_path.iterdir()))}.npz"
    code = main(["sample", "--checkpoint", str(run), "--num", "2", "--steps", "3", "--npz", str(npz),
                 "--out", str(tmp_path / "g.png"), "--no-progress", *extra])  # fmt: skip
    assert code == 0
    return np.load(npz)["arr_0"]


def test_sampler_and_grid_flags_reach_the_sampler(tiny_run, tmp_path):
    """Each --sampler and --grid gives other images than the config's DDPM on the uniform grid."""
    base = _draw(tiny_run, tmp_path)
    for name in [n for n in SAMPLERS if n != "ddpm"]:
        assert not np.array_equal(_draw(tiny_run, tmp_path, "--sampler", name), base), name
    assert not np.array_equal(_draw(tiny_run, tmp_path, "--grid", "logsnr"), base)


def test_unknown_sampler_exits_2(tiny_run, capsys):
    """An unknown --sampler is refused by argparse (exit 2) with the choices."""
    with pytest.raises(SystemExit) as exc:
        main(["sample", "--checkpoint", str(tiny_run), "--sampler", "plms"])
    assert exc.value.code == 2
    assert "dpmpp_2m" in capsys.readouterr().err
