"""`rin evaluate --ref BATCH.npz`: an ADM-style image batch as the reference; KID with its settings."""

from __future__ import annotations

import json

import numpy as np
import torch

from rin.cli.main import main
from rin.evaluation.networks.inception import FIDInceptionV3


def test_evaluate_against_an_image_batch(tmp_path, capsys):
    """Scores an .npz of samples against an arr_0 image batch, caches its stats, prints the Frechet
    distance and KID (random weights offline: allowed explicitly, and marked as not FID)."""
    weights = tmp_path / "random-inception.pth"
    torch.manual_seed(0)
    torch.save(FIDInceptionV3().state_dict(), weights)  # the architecture with random values (offline)
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "ref_batch.npz", arr_0=rng.integers(0, 256, (12, 32, 32, 3), dtype=np.uint8))
    np.savez(tmp_path / "samples.npz", arr_0=rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8))
    argv = ["evaluate", "--samples", str(tmp_path / "samples.npz"), "--ref", str(tmp_path / "ref_batch.npz"),
            "--inception-weights", str(weights), "--allow-other-inception-weights",
            "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "KID: " in out and "(100 subsets of 6)" in out
    result = json.loads(out.strip().splitlines()[-1])
    assert result["kid_subsets"] == 100 and result["kid_subset_size"] == 6 and result["num_reference"] == 12
    assert len(list(tmp_path.glob("ref_batch.*.stats.npz"))) == 1  # cached beside the batch
