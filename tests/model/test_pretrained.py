"""Pretrained folders: save_pretrained / from_pretrained, locally and through an offline hub cache."""

from __future__ import annotations

import json
import shutil

import huggingface_hub.constants
import pytest
import torch

from rin.errors import CheckpointError, RinError
from rin.model import RIN
from rin.model.pretrained import CARD, CONFIG, WEIGHTS


def _outputs(model: RIN, config) -> torch.Tensor:
    c = config.model
    generator = torch.Generator().manual_seed(1)
    x_t = torch.randn(2, c.channels, c.image_size, c.image_size, generator=generator)
    gamma, labels = torch.tensor([0.3, 0.8]), torch.tensor([1, 2])
    with torch.no_grad():
        return model.eval()(x_t, gamma, labels)[0]


@pytest.fixture
def saved(tiny_config, tmp_path):
    """A tiny RIN with non-initial weights, saved as a pretrained folder."""
    model = RIN(tiny_config.model)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.01 * torch.randn_like(parameter))
    folder = model.save_pretrained(tmp_path / "pretrained", tiny_config)
    return model, folder


def test_round_trip_gives_identical_outputs(saved, tiny_config):
    """from_pretrained(save_pretrained(model)) computes exactly what the model computes."""
    model, folder = saved
    assert {p.name for p in folder.iterdir()} == {WEIGHTS, CONFIG, CARD}
    loaded = RIN.from_pretrained(folder)
    assert not loaded.training
    assert torch.equal(_outputs(loaded, tiny_config), _outputs(model, tiny_config))
    assert not torch.equal(_outputs(RIN(tiny_config.model), tiny_config), _outputs(model, tiny_config))
    assert json.loads((folder / CONFIG).read_text())["diffusion"] == tiny_config.to_dict()["diffusion"]
    assert "RIN.from_pretrained" in (folder / CARD).read_text()


def _fake_hub_cache(folder, cache, repo_id):
    """The hub cache layout snapshot_download reads offline: refs/main -> snapshots/<commit>/files."""
    commit = "0" * 40
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    shutil.copytree(folder, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)


def test_hub_id_loads_from_the_offline_cache(saved, tiny_config, tmp_path, monkeypatch):
    """A hub id resolves through huggingface_hub's cache with no network (HF_HUB_OFFLINE)."""
    model, folder = saved
    cache = tmp_path / "hub"
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(RinError, match="could not fetch someone/rin-tiny"):
        RIN.from_pretrained("someone/rin-tiny")  # not cached yet: a clear error, not a hang
    _fake_hub_cache(folder, cache, "someone/rin-tiny")
    loaded = RIN.from_pretrained("someone/rin-tiny")
    assert torch.equal(_outputs(loaded, tiny_config), _outputs(model, tiny_config))


def test_offline_hub_error_is_one_line(monkeypatch, tmp_path):
    """An uncached hub id offline is one line that says what failed."""
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(RinError) as raised:
        RIN.from_pretrained("nobody/nothing")
    assert len(str(raised.value).splitlines()) == 1 and "offline" in str(raised.value)


def test_bad_folders_are_refused(saved, tiny_config, tmp_path):
    """A folder without weights, a missing path and weights of another model are clear errors."""
    _, folder = saved
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="not a pretrained folder"):
        RIN.from_pretrained(tmp_path / "empty")
    with pytest.raises(RinError, match="neither a pretrained folder nor a hub id"):
        RIN.from_pretrained(tmp_path / "no" / "such" / "folder")
    config = json.loads((folder / CONFIG).read_text())
    config["model"]["latent_dim"] *= 2
    (folder / CONFIG).write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="does not fit this model"):
        RIN.from_pretrained(folder)
