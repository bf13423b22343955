"""`progress_bar`: whole lines every N updates when stderr is not a terminal, tqdm's bar on one."""

from __future__ import annotations

import io
import sys

from tqdm import tqdm

from rin.progress import progress_bar


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_log_file_gets_one_line_per_n_updates(monkeypatch):
    """100 updates with every=25 print 4 progress lines plus the closing one, with no carriage return."""
    log = io.StringIO()
    monkeypatch.setattr(sys, "stderr", log)
    with progress_bar(total=100, desc="train", unit="step", every=25) as bar:
        for _ in range(100):
            bar.update(1)
    text = log.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert len(lines) == 6  # the opening 0/100 line, 25, 50, 75, 100, and close's final 100/100
    assert lines[-1].startswith("train: 100%") and "100/100" in lines[-1]
    # the default aims at about 20 lines a bar
    log.seek(0), log.truncate()
    for _ in progress_bar(range(1000), desc="x"):
        pass
    assert 20 <= len(log.getvalue().splitlines()) <= 23


def test_terminal_keeps_tqdms_redrawn_bar(monkeypatch):
    """On a terminal the bar redraws in place (carriage returns): the control for the test above."""
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    bar = progress_bar(total=3, file=terminal, mininterval=0)
    assert isinstance(bar, tqdm)
    for _ in range(3):
        bar.update(1)
    bar.close()
    assert "\r" in terminal.getvalue()
