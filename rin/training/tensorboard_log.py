"""TensorBoard view of the metrics log (optional extra `rin[tb]`); `metrics.jsonl` stays the record.

`TensorBoardMirror` receives every record the run writes to its JSONL log and turns the numbers
into scalars: `train/loss`, `train/lr`, `train/grad_norm`, `train/images_per_sec`, `eval/<metric>`,
and the sample grids named by `samples` records into images. The writer is torch's own
`torch.utils.tensorboard.SummaryWriter`, which needs the `tensorboard` package.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from rin.errors import RinError

TRAIN_SCALARS = ("loss", "lr", "grad_norm", "images_per_sec")
INSTALL_HINT = "TensorBoard logging needs the tensorboard package: pip install 'rin[tb]' (or tensorboard)"


def require_tensorboard() -> None:
    """Raise a one-line RinError when `tensorboard` is not installed."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        raise RinError(INSTALL_HINT) from None


class TensorBoardMirror:
    """Writes metrics-log records as TensorBoard events under `log_dir` (rank 0 only)."""

    def __init__(self, log_dir: Path, purge_step: int | None = None) -> None:
        """`purge_step`: a resumed run replays the steps from there on; TensorBoard hides the events
        a killed run had already written for them, so each step shows once (as in metrics.jsonl)."""
        require_tensorboard()
        from torch.utils.tensorboard import SummaryWriter

        self.log_dir = log_dir
        self.writer = SummaryWriter(log_dir=str(log_dir), purge_step=purge_step)

    def __call__(self, record: dict[str, Any]) -> None:
        event, step = record.get("event"), record.get("step")
        if not isinstance(step, int):
            return
        wall = record.get("time")
        if event == "train":
            for key in TRAIN_SCALARS:
                self._scalar(f"train/{key}", record.get(key), step, wall)
        elif event == "eval":  # every number of an evaluation: score, fid, kid, precision ...
            for key, value in record.items():
                if key not in ("step", "time", "seed", "sampling_steps"):
                    self._scalar(f"eval/{key}", value, step, wall)
        elif event == "samples" and str(record.get("path", "")).endswith(".png"):
            self._image(Path(record["path"]), step, wall)
        self.writer.flush()  # a crashed run keeps what it logged, as the JSONL log does

    def _scalar(self, tag: str, value: Any, step: int, wall: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return
        self.writer.add_scalar(tag, float(value), step, walltime=wall)

    def _image(self, path: Path, step: int, wall: Any) -> None:
        from PIL import Image

        try:
            with Image.open(path) as image:
                pixels = np.asarray(image.convert("RGB"))  # (H, W, 3) uint8
        except OSError:
            return  # the grid is also on disk; a missing one is not worth stopping training for
        self.writer.add_image("samples", pixels, step, walltime=wall, dataformats="HWC")

    def close(self) -> None:
        self.writer.close()
