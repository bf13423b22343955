"""End-to-end tests of the `rin` command on video presets."""

from __future__ import annotations

import json

from PIL import Image

from rin.cli.main import main


def test_info_json_for_kinetics600(capsys):
    """`rin info --preset kinetics600 --json`: params near the paper's 411M, GFLOPs per clip, 2048 tokens."""
    assert main(["info", "--preset", "kinetics600", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert abs(info["params"] - 411e6) / 411e6 < 0.1
    assert info["gflops_per_clip"] > 100 and "gflops_per_image" not in info
    assert info["interface_tokens"] == 2048 and info["conditioning"] == "mask"


def test_train_then_sample_moving_mnist_writes_gifs(tmp_path, capsys):
    """`rin train --preset moving-mnist` (2 steps, tiny data) writes a GIF; `rin sample` writes one too."""
    run = tmp_path / "run"
    code = main(["train", "--preset", "moving-mnist", "--steps", "2", "--out", str(run), "--no-progress",
                 "--set", "data.num_clips=8", "--set", "train.num_samples=1", "--set", "train.sample_steps=2",
                 "--batch-size", "2"])  # fmt: skip
    assert code == 0
    grids = list((run / "samples").glob("*.gif"))
    assert len(grids) == 1 and Image.open(grids[0]).n_frames == 10
    gif = tmp_path / "s.gif"
    code = main(
        ["sample", "--checkpoint", str(run), "--num", "2", "--steps", "2", "--out", str(gif), "--no-progress"]
    )
    assert code == 0 and Image.open(gif).n_frames == 10
    assert "frame MSE" in capsys.readouterr().out
    assert main(["sample", "--checkpoint", str(run), "--npz", str(tmp_path / "x.npz")]) == 2


def test_train_video_model_on_a_folder_of_frame_folders(tmp_path, video_config):
    """`data.dataset=video_folder` trains a video model from frame folders (the Kinetics path) end to end."""
    import dataclasses

    import numpy as np

    from rin.configs import get_preset
    from rin.configs.experiment import DataConfig
    from rin.training import train

    root = tmp_path / "videos"
    for v in range(3):
        folder = root / f"clip{v}"
        folder.mkdir(parents=True)
        for i in range(8):
            Image.fromarray(np.full((12, 12), 20 * v + 10 * i, np.uint8)).save(folder / f"{i}.png")
    config = dataclasses.replace(
        get_preset("tiny"), model=video_config("mask", frames=6, context=3),
        data=DataConfig(dataset="video_folder", path=str(root), num_clips=2),
    )  # fmt: skip
    config.train.steps, config.train.batch_size, config.train.num_samples = 2, 2, 1
    result = train(config, tmp_path / "run", progress=False)
    assert result.step == 2
    assert len(list((tmp_path / "run" / "samples").glob("*.gif"))) == 1


def test_kinetics600_trains_on_clip_shards_from_rin_data_video(tmp_path, frame_folders):
    """`rin data video` then `rin train --preset kinetics600` (shrunk by --set) streams the shards 2 steps."""
    src = frame_folders(tmp_path / "src")
    shards = tmp_path / "shards"
    assert main(["data", "video", "--src", str(src), "--out", str(shards), "--frames", "4", "--size", "8",
                 "--shard-size", "2", "--no-progress"]) == 0  # fmt: skip
    small = ["model.frames=4", "model.context_frames=2", "model.image_size=8", "model.num_latents=4",
             "model.latent_dim=32", "model.interface_dim=16", "model.num_blocks=1", "model.block_depth=1",
             "model.latent_heads=2", "model.rw_heads=2", "train.num_samples=1",
             "train.sample_steps=1"]  # fmt: skip
    run = tmp_path / "run"
    argv = ["train", "--preset", "kinetics600", "--data", str(shards), "--steps", "2", "--batch-size", "2",
            "--out", str(run), "--no-progress", *(arg for s in small for arg in ("--set", s))]  # fmt: skip
    assert main(argv) == 0
    assert (run / "checkpoints" / "step_00000002").is_dir()
    events = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    data = next(e for e in events if e["event"] == "data")
    assert (data["shards"], data["loader_slots"]) == (3, 2)  # streamed: 3 shards over 2 loader workers
    assert Image.open(next((run / "samples").glob("*.gif"))).n_frames == 4  # held-out clips from the shards
