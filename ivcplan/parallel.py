"""How many threads one analysis may use: the cores this process may run on, unless a batch gives
each case its share (`set_threads`). numpy, scipy.ndimage and scipy.fft release the GIL in their
kernels, so independent steps run in parallel threads."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

_THREADS: int | None = None
#: Helper thread -> the thread whose work it does (log records are filed by thread: a batch's case log).
_OWNERS: dict[int, int] = {}


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


def owner_of(thread_ident: int | None) -> int | None:
    """The thread a helper thread works for (itself if it is none's helper; None for a record without one)."""
    return None if thread_ident is None else _OWNERS.get(thread_ident, thread_ident)


def run_beside(pool: Executor, fn: Callable[..., T], *args: Any) -> Future[T]:
    """Submit ``fn(*args)`` to ``pool`` on behalf of the calling thread: while it runs, its thread's log
    records belong to the caller (`owner_of`), so that they reach the caller's case log."""
    owner = owner_of(threading.get_ident())

    def job() -> T:
        me = threading.get_ident()
        _OWNERS[me] = owner
        try:
            return fn(*args)
        finally:
            _OWNERS.pop(me, None)

    return pool.submit(job)


def side_by_side(*calls: tuple[Callable[..., Any], tuple[Any, ...]]) -> list[Any]:
    """Run independent ``(fn, args)`` calls in threads (at most `available_threads`), on behalf of the
    calling thread (`run_beside`); their results in the order given."""
    with ThreadPoolExecutor(max_workers=max(1, min(len(calls), available_threads()))) as pool:
        jobs = [run_beside(pool, fn, *args) for fn, args in calls]
        return [job.result() for job in jobs]
