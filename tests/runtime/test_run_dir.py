"""Tests of the output-directory check that runs before any work."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

import rin.runtime.run_dir as run_dir_module
from rin.errors import RinError
from rin.runtime.run_dir import check_writable_dir


def test_an_existing_file_is_refused(tmp_path):
    """A file where the directory should be gives one line saying so."""
    (tmp_path / "out").write_text("x")
    with pytest.raises(RinError, match=r"run directory .*/out is a file, not a directory"):
        check_writable_dir(tmp_path / "out")


def test_a_path_under_a_file_is_refused(tmp_path):
    """A directory below a file names the file in the way."""
    (tmp_path / "file").write_text("x")
    with pytest.raises(RinError, match=r"run directory .*/file/run is under .*/file, which is a file"):
        check_writable_dir(tmp_path / "file" / "run")


@pytest.mark.parametrize(
    ("call", "code"),
    [("mkdir", errno.EROFS), ("open", errno.EACCES), ("fsync", errno.ENOSPC)],
)
def test_unwritable_directories_give_the_system_reason(tmp_path, monkeypatch, call, code):
    """A read-only file system, a refused write and a full disk (simulated: the tests run as root)
    give one line with the system's reason, and leave no probe file behind."""

    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    if call == "fsync":
        monkeypatch.setattr(run_dir_module.os, "fsync", fail)
    else:
        monkeypatch.setattr(Path, call, fail)
    with pytest.raises(RinError, match=rf"is not writable: {os.strerror(code)}$") as info:
        check_writable_dir(tmp_path / "run")
    assert "\n" not in str(info.value)
    if call == "fsync":
        assert list((tmp_path / "run").iterdir()) == []


def test_a_good_directory_is_created_and_left_empty(tmp_path):
    """A writable path is created (with parents) and the probe is removed."""
    assert check_writable_dir(tmp_path / "a" / "b") == tmp_path / "a" / "b"
    assert list((tmp_path / "a" / "b").iterdir()) == []
