"""`--resize {torch,tf}` reaches the Inception from the command line and is checked against the reference."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from rin.cli.main import main
from rin.evaluation.networks.inception import FIDInceptionV3


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Random FID Inception weights (the real ones are offline), 4 reference images, 4 samples (8x8)."""
    root = tmp_path_factory.mktemp("resize")
    torch.manual_seed(0)
    torch.save(FIDInceptionV3().state_dict(), root / "random-inception.pth")
    rng = np.random.default_rng(0)
    np.savez(root / "ref_images.npz", arr_0=rng.integers(0, 256, (4, 8, 8, 3), dtype=np.uint8))
    np.savez(root / "samples.npz", arr_0=rng.integers(0, 256, (4, 8, 8, 3), dtype=np.uint8))
    weights = ["--inception-weights", str(root / "random-inception.pth"), "--allow-other-inception-weights"]
    stats = root / "ref_tf.npz"
    argv = ["evaluate", "stats", "--dataset", "npz", "--data", str(root / "ref_images.npz"),
            "--out", str(stats), "--resize", "tf", "--no-progress", *weights]  # fmt: skip
    assert main(argv) == 0
    return root, stats, weights


def test_stats_record_the_resize_and_scoring_with_the_other_is_refused(setup, capsys):
    """`rin evaluate stats --resize tf` records tf; scoring against it with the default (torch) exits 2
    with one line naming both, and with --resize tf it scores (the flag reached the extractor)."""
    root, stats, weights = setup
    with np.load(stats) as stored:
        assert str(stored["resize"]) == "tf"
    capsys.readouterr()
    argv = ["evaluate", "--samples", str(root / "samples.npz"), "--ref", str(stats),
            "--no-progress", *weights]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--resize tf, not --resize torch" in err
    assert main([*argv, "--resize", "torch"]) == 2
    capsys.readouterr()
    assert main([*argv, "--resize", "tf"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].endswith("(--resize tf)")
    assert json.loads(out.strip().splitlines()[-1])["resize"] == "tf"


def test_resize_with_another_extractor_is_refused(setup, capsys):
    """--resize belongs to the Inception: with --extractor digits it is a one-line error (exit 2)."""
    root, stats, _ = setup
    argv = ["evaluate", "--samples", str(root / "samples.npz"), "--ref", str(stats),
            "--extractor", "digits", "--resize", "tf"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--resize applies to --extractor inception only" in err


def test_train_eval_resize_reaches_the_extractor(setup, tmp_path, capsys):
    """`rin train --eval-ref` with a tf reference is refused before training under the default resize;
    with --eval-resize tf the resize passes and the next check (8x8 reference, 16x16 model) refuses."""
    _, stats, weights = setup
    argv = ["train", "--preset", "tiny", "--steps", "1", "--out", str(tmp_path / "run"), "--no-progress",
            "--set", "train.eval_every=1", "--eval-ref", str(stats), *weights]  # fmt: skip
    assert main(argv) == 2
    assert "--resize tf, not --resize torch" in capsys.readouterr().err
    assert main([*argv, "--eval-resize", "tf"]) == 2
    err = capsys.readouterr().err
    assert "--resize" not in err and "8x8" in err
