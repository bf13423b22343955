"""rin.runtime.provenance: the commit, machine and torch version that reported figures carry."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from rin.runtime.provenance import git_commit, git_dirty, machine_line, provenance

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_git_commit_is_the_checkouts_short_head_and_none_outside_a_checkout(tmp_path):
    """In this checkout the commit is `git rev-parse --short HEAD`; in a plain folder it is None."""
    done = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip("the tests do not run from a git checkout")
    assert git_commit() == done.stdout.strip() == git_commit(ROOT)
    assert git_commit(tmp_path) is None and git_dirty(tmp_path) is None


def test_without_git_the_commit_is_none(monkeypatch):
    """No git on PATH (an installed wheel on a bare machine) gives None, not an error."""
    monkeypatch.setenv("PATH", "")
    assert git_commit() is None and git_dirty() is None


def test_provenance_names_the_machine_and_torch():
    """The record holds a non-empty machine line, this torch's version and its thread count."""
    record = provenance("cpu")
    assert record["machine"] == machine_line("cpu") and record["machine"]
    assert record["torch"] == torch.__version__ and record["threads"] == torch.get_num_threads()
    assert set(record) == {"commit", "dirty", "machine", "torch", "threads"}
