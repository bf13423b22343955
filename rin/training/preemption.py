"""Graceful stop on SIGTERM / SIGINT: finish the step, write a checkpoint, exit 0.

Clusters preempt with SIGTERM and a grace period; users press Ctrl-C. The first signal only sets
a flag that the training loop reads at the next step boundary, where it checkpoints and returns.
A second signal exits at once (status 128 + signal): every checkpoint is written to a temporary
directory and renamed into place, so an abrupt exit can only lose the step in flight.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType, TracebackType
from typing import Any

HANDLED = (signal.SIGTERM, signal.SIGINT)


class StopRequest:
    """Context manager that turns the first SIGTERM/SIGINT into `requested` (a signal name)."""

    def __init__(self) -> None:
        self.requested: str | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.requested is not None:
            print(f"\nrin: second {name}: exiting now (the last checkpoint is intact)", file=sys.stderr)
            os._exit(128 + signum)
        self.requested = name
        print(
            f"\nrin: {name} received: stopping after this step with a checkpoint (send again to exit now)",
            file=sys.stderr,
        )

    def __enter__(self) -> StopRequest:
        # signal handlers can only be installed from the main thread (e.g. not in a notebook worker)
        if threading.current_thread() is threading.main_thread():
            for sig in HANDLED:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
