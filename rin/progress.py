"""Progress bars: tqdm on a terminal, one plain line every N updates in a log file or pipe.

tqdm redraws its bar with carriage returns, which a log file records as one long line of noise.
When stderr is not a terminal, `progress_bar` keeps tqdm's counting and rate but prints a whole
line every `every` updates (default: about 20 lines per bar). Like `rin.errors` this module sits
below every layer, so training, sampling, evaluation and the CLI all use it.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable
from typing import IO, Any

from tqdm import tqdm
from tqdm.auto import tqdm as auto_tqdm


class _Lines:
    """A stream for tqdm that turns its carriage-return redraws into whole lines."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        line = text.replace("\r", "").replace("\x1b[A", "").strip()
        if line:  # tqdm also writes blanks to clear a bar; a log has nothing to clear
            self.stream.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


def progress_bar(iterable: Iterable[Any] | None = None, *, every: int | None = None, **kwargs: Any) -> tqdm:
    """`tqdm(iterable, **kwargs)`, or, when stderr is not a terminal, a line per `every` updates."""
    stream = sys.stderr
    if kwargs.get("disable") or stream.isatty():
        return auto_tqdm(iterable, **kwargs)
    if every is None:
        total = kwargs.get("total")
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)  # type: ignore[arg-type]
        every = max(1, math.ceil(total / 20)) if total else 100
    kwargs.pop("dynamic_ncols", None)
    # mininterval 0 and maxinterval inf: print on the update count alone, never on a timer
    return tqdm(iterable, file=_Lines(stream), miniters=every, mininterval=0, maxinterval=math.inf,
                ncols=100, ascii=True, **kwargs)  # fmt: skip
