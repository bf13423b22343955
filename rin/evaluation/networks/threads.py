"""A fixed CPU thread count for training the evaluators, so every machine scores with the same network.

CPU reductions (convolutions, matmuls) split their sums by thread, so the same seed trained at 1 and
at 2 threads gives different weights, and a Frechet proxy read from them differs too: the demo's
digit classifier trained at 1 thread scored one set of samples 59.2 where the 2-thread one scored
52.8 (benchmarks/README.md, "The evaluators train at a fixed thread count"). Pinning the count
makes the cached evaluator depend only on the CPU's instruction set, not on the thread count of
whichever process trained it first.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def fixed_threads(count: int) -> Iterator[None]:
    """Run the block with `torch.set_num_threads(count)`; the caller's count is restored after."""
    if count < 1:
        raise ValueError(f"thread count must be >= 1, got {count}")
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)
