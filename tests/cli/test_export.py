"""`rin export` then `RIN.from_pretrained` / `rin sample --model`: the checkpoint's EMA model, exactly."""

from __future__ import annotations

import json

import numpy as np
import torch

from rin.cli.main import main
from rin.configs import apply_overrides
from rin.data import load_mnist
from rin.model import RIN
from rin.training import train


def test_export_then_from_pretrained_and_sample(tiny_config, tmp_path, capsys):
    """Exported EMA weights give the run's EMA outputs; sampling the folder equals sampling the run."""
    digits = load_mnist("train").subset(list(range(0, 4000, 400)))
    config = apply_overrides(tiny_config, ["train.steps=2", "train.num_samples=1", "train.sample_steps=1"])
    result = train(config, tmp_path / "run", data=digits, progress=False)
    assert main(["export", str(tmp_path / "run"), str(tmp_path / "folder")]) == 0
    loaded = RIN.from_pretrained(tmp_path / "folder")
    c = config.model
    x_t = torch.randn(2, c.channels, c.image_size, c.image_size)
    gamma, labels = torch.tensor([0.2, 0.9]), torch.tensor([3, 4])
    with torch.no_grad():
        ema_out = result.ema.eval()(x_t, gamma, labels)[0]
        online_out = result.model.eval()(x_t, gamma, labels)[0]
        assert torch.equal(loaded(x_t, gamma, labels)[0], ema_out)
    assert not torch.equal(ema_out, online_out)  # so the check above tells EMA from online weights
    card = (tmp_path / "folder" / "README.md").read_text()
    assert "ema at step 2" in card
    common = ["--num", "3", "--steps", "2", "--no-progress", "--seed", "5"]
    assert main(["sample", "--checkpoint", str(tmp_path / "run"), "--npz", str(tmp_path / "a.npz"),
                 "--out", str(tmp_path / "a.png"), *common]) == 0  # fmt: skip
    assert main(["sample", "--model", str(tmp_path / "folder"), "--npz", str(tmp_path / "b.npz"),
                 "--out", str(tmp_path / "b.png"), *common]) == 0  # fmt: skip
    assert np.array_equal(np.load(tmp_path / "a.npz")["arr_0"], np.load(tmp_path / "b.npz")["arr_0"])


def test_sample_refuses_a_bare_network_folder(tiny_config, tmp_path, capsys):
    """A folder saved without the run's config cannot be sampled: one line pointing at rin export."""
    RIN(tiny_config.model).save_pretrained(tmp_path / "bare")
    config = json.loads((tmp_path / "bare" / "config.json").read_text())
    assert set(config) == {"model"}
    assert main(["sample", "--model", str(tmp_path / "bare"), "--num", "1", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert "rin export" in err and len(err.splitlines()) == 1


def test_sample_set_of_a_replaced_pretrained_folder_is_refused(tiny_config, tmp_path, capsys):
    """A resumable --npz sample set of a --model folder is keyed by the folder's content, not its path:
    other weights saved at the same path exit 2 instead of mixing shards of two models."""
    folder = tmp_path / "folder"
    torch.manual_seed(0)
    RIN(tiny_config.model).save_pretrained(folder, experiment=tiny_config)
    argv = ["sample", "--model", str(folder), "--num", "2", "--steps", "1", "--shard-size", "1",
            "--npz", str(tmp_path / "s.npz"), "--out", str(tmp_path / "s.png"), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    assert main(argv) == 0  # the same folder again: its finished shards are reused
    torch.manual_seed(1)
    RIN(tiny_config.model).save_pretrained(folder, experiment=tiny_config)
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "were drawn with other settings" in err and len(err.splitlines()) == 1
