"""Where a measurement was made: the git commit of the code, the machine and the torch version.

Reported figures carry these so that a number can be traced to the code and the machine that
produced it (issue 17: every README figure re-measured at the commit that states it).
"""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path

import torch

_PACKAGE_DIR = Path(__file__).resolve().parents[1]  # rin/: the code whose commit is asked for


def _git(args: list[str], where: Path) -> str | None:
    """stdout of `git -C where ARGS`, stripped; None where git is missing, fails or hangs."""
    try:
        done = subprocess.run(
            ["git", "-C", str(where), *args], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_commit(where: str | Path | None = None) -> str | None:
    """`git rev-parse --short HEAD` of the repository holding `where` (default: rin's own code),
    or None outside a git checkout or without git (an installed wheel)."""
    return _git(["rev-parse", "--short", "HEAD"], Path(where) if where is not None else _PACKAGE_DIR) or None


def git_dirty(where: str | Path | None = None) -> bool | None:
    """True when tracked files differ from HEAD (the figures are then not exactly the commit's)."""
    status = _git(["status", "--porcelain", "--untracked-files=no"], Path(where or _PACKAGE_DIR))
    return None if status is None else bool(status)


def cpu_name() -> str:
    """The CPU's model name (Linux /proc/cpuinfo), else the architecture."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine() or "unknown CPU"


def machine_line(device: torch.device | str = "cpu") -> str:
    """One line naming the machine: the CPU, and the GPU where `device` is one."""
    device = torch.device(device)
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}, host {cpu_name()}"
    return cpu_name()


def provenance(device: torch.device | str = "cpu") -> dict[str, object]:
    """commit, dirty, machine, torch version and thread count, for a results file."""
    return {
        "commit": git_commit(),
        "dirty": git_dirty(),
        "machine": machine_line(device),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }
