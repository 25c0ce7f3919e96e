"""How many threads one analysis may use: the cores this process may run on, unless a batch gives
each case its share (`set_threads`). numpy, scipy.ndimage and scipy.fft release the GIL in their
kernels, so independent steps run in parallel threads."""

from __future__ import annotations

import os

_THREADS: int | None = None


def available_threads() -> int:
    """Threads an analysis may use (at least 1)."""
    if _THREADS is not None:
        return _THREADS
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def set_threads(threads: int | None) -> None:
    """Limit the threads of this process's analyses (None: back to all available cores)."""
    global _THREADS
    if threads is not None and int(threads) < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    _THREADS = None if threads is None else int(threads)
