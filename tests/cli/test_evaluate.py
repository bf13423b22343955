"""`rin evaluate` end to end: reference statistics, scoring samples or a checkpoint, refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from rin.cli.main import main
from rin.evaluation.networks.inception import FIDInceptionV3


@pytest.fixture(scope="module")
def inception_weights(tmp_path_factory):
    """A weight file of the FID Inception architecture with random values (the real one is offline)."""
    path = tmp_path_factory.mktemp("inception") / "random-inception.pth"
    torch.manual_seed(0)
    torch.save(FIDInceptionV3().state_dict(), path)
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    (root / "a").mkdir()
    for i in range(12):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(root / "a" / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def digits_ref(tmp_path_factory):
    """Reference statistics of the held-out digits with the digit-classifier proxy."""
    ref = tmp_path_factory.mktemp("digits") / "ref.npz"
    args = [
        "--dataset",
        "mnist",
        "--data",
        "mnist",
        "--split",
        "test",
        "--extractor",
        "digits",
        "--no-progress",
    ]
    assert main(["evaluate", "stats", *args, "--out", str(ref)]) == 0
    return ref


def test_stats_then_evaluate_an_npz_with_the_inception(inception_weights, folder, tmp_path, capsys):
    """Reference stats of a folder, then the Frechet distance, precision and recall of an .npz with the
    Inception code path; weights other than the FID file's are marked, in the output and the file."""
    ref = tmp_path / "ref.npz"
    weights = [
        "--inception-weights",
        str(inception_weights),
        "--allow-other-inception-weights",
        "--no-progress",
    ]
    assert (
        main(["evaluate", "stats", "--dataset", "folder", "--data", str(folder), "--out", str(ref), *weights])
        == 0
    )
    with np.load(ref) as stored:
        assert str(stored["extractor"]) == "fid-inception-v3-2015-12-05+other-weights"
    samples = tmp_path / "samples.npz"
    np.savez(samples, arr_0=np.random.default_rng(1).integers(0, 256, (10, 32, 32, 3), dtype=np.uint8))
    capsys.readouterr()
    assert main(["evaluate", "--samples", str(samples), "--ref", str(ref), *weights]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Frechet distance with other Inception weights (not FID): ")
    assert "FID:" not in out and "Inception Score" not in out
    result = json.loads(out.strip().splitlines()[-1])
    assert result["num_samples"] == 10 and result["num_reference"] == 12
    assert 0.0 <= result["precision"] <= 1.0 and result["frechet"] >= 0.0


def test_inception_weights_of_another_hash_are_refused(inception_weights, folder, tmp_path, capsys):
    """--inception-weights whose SHA-256 is not the FID file's exits 2 in one line (it printed
    "FID: 0.0000 / Inception Score: 1.000" for random weights)."""
    argv = ["evaluate", "stats", "--dataset", "folder", "--data", str(folder),
            "--out", str(tmp_path / "r.npz"), "--inception-weights", str(inception_weights),
            "--no-progress"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--allow-other-inception-weights" in err and "sha256" in err
    assert not (tmp_path / "r.npz").exists()


def test_reference_of_another_extractor_is_refused(inception_weights, digits_ref, tmp_path, capsys):
    """Statistics made with the digits proxy are refused when scoring with the Inception."""
    ref = digits_ref
    samples = tmp_path / "samples.npz"
    np.savez(samples, arr_0=np.zeros((4, 32, 32, 1), dtype=np.uint8))
    capsys.readouterr()
    code = main(
        [
            "evaluate",
            "--samples",
            str(samples),
            "--ref",
            str(ref),
            "--inception-weights",
            str(inception_weights),
            "--allow-other-inception-weights",
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "digits" in err


def test_evaluate_a_checkpoint_with_the_digit_proxy(digits_ref, tmp_path, capsys):
    """Sampling a checkpoint and scoring it prints the proxy label (never "FID") and logs an eval event."""
    run = tmp_path / "run"
    assert main(["train", "--preset", "tiny", "--steps", "1", "--out", str(run), "--no-progress",
                 "--set", "train.num_samples=1", "--set", "train.sample_steps=1"]) == 0  # fmt: skip
    capsys.readouterr()
    code = main(["evaluate", "--checkpoint", str(run), "--ref", str(digits_ref), "--num", "6", "--steps", "2",
                 "--extractor", "digits", "--no-progress"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0 and out.startswith("classifier-feature Frechet distance (proxy, not FID)")
    events = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    evals = [e for e in events if e["event"] == "eval"]
    assert len(evals) == 1 and evals[0]["step"] == 1 and evals[0]["num_samples"] == 6


def test_guidance_on_an_unconditional_checkpoint_is_a_one_line_error(digits_ref, tmp_path, capsys):
    """`rin evaluate --guidance w` on an unconditional model exits 2 with one line, as `rin sample` does."""
    run = tmp_path / "run"
    assert main(["train", "--preset", "tiny", "--steps", "1", "--out", str(run), "--no-progress",
                 "--set", "model.num_classes=0", "--set", "train.num_samples=1",
                 "--set", "train.sample_steps=1"]) == 0  # fmt: skip
    capsys.readouterr()
    code = main(["evaluate", "--checkpoint", str(run), "--ref", str(digits_ref), "--num", "2", "--steps", "1",
                 "--extractor", "digits", "--guidance", "2", "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert (
        code == 2
        and err
        == "rin evaluate: error: --guidance needs a class-conditional model; this one is unconditional"
    )


def test_samples_of_another_resolution_are_refused(digits_ref, tmp_path, capsys):
    """64x64 samples scored against 32x32 reference statistics exit 2 naming both resolutions."""
    samples = tmp_path / "big.npz"
    np.savez(samples, arr_0=np.zeros((4, 64, 64, 1), dtype=np.uint8))
    capsys.readouterr()
    code = main(["evaluate", "--samples", str(samples), "--ref", str(digits_ref), "--extractor", "digits",
                 "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "the samples are 64x64 but the reference statistics are of 32x32 images" in err


def test_missing_arguments_give_one_line_errors(capsys):
    """No --ref, or neither --checkpoint nor --samples, is a one-line error."""
    assert main(["evaluate", "--checkpoint", "x"]) == 2
    assert main(["evaluate", "--ref", "r.npz"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "--ref" in err[0] and "--checkpoint" in err[1]


def test_train_with_eval_every_logs_the_proxy_and_keeps_the_best(digits_ref, tmp_path, capsys):
    """`rin train --eval-ref` evaluates every train.eval_every steps and keeps checkpoints/best."""
    run = tmp_path / "run"
    code = main(["train", "--preset", "tiny", "--steps", "2", "--out", str(run), "--no-progress",
                 "--eval-ref", str(digits_ref), "--eval-extractor", "digits", "--set", "train.eval_every=1",
                 "--set", "train.eval_num=4", "--set", "train.num_samples=1"])  # fmt: skip
    assert code == 0
    events = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [e["step"] for e in events if e["event"] == "eval"] == [1, 2]
    assert (run / "checkpoints" / "best" / "score.json").is_file()


def test_reading_a_sample_npz_holds_the_images_once(tmp_path):
    """Reading an .npz and putting channels first allocates the images once, not twice (a view, not a
    contiguous copy; batches are made contiguous by the extractors)."""
    import tracemalloc

    from rin.cli.evaluate import _channels_first, _read_samples

    images = np.random.default_rng(0).integers(0, 256, (2000, 64, 64, 3), dtype=np.uint8)  # 24.6 MB
    np.savez(tmp_path / "s.npz", arr_0=images)
    tracemalloc.start()
    try:
        first = _channels_first(_read_samples(tmp_path / "s.npz"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert first.shape == (2000, 3, 64, 64) and np.array_equal(first[7], images[7].transpose(2, 0, 1))
    assert peak < 1.5 * images.nbytes, f"peak {peak / 1e6:.1f} MB for {images.nbytes / 1e6:.1f} MB of images"
