"""How this process's C allocator treats the large arrays of an analysis.

A 512x512x300 CT makes masks and temporaries of 80-600 MB by the hundred. glibc serves every block
above its mmap threshold (at most 32 MB) with a fresh mapping and unmaps it when freed, so each new
array is faulted in again page by page and zeroed by the kernel: on the bench CT a third of the
analysis' CPU time was system time (30 of 87 s), and more under load. `keep_freed_memory` makes the
allocator take large blocks from its heap and keep what is freed for the next array instead.
Results are unchanged; the peak resident memory does not grow (1.6 GB against 2.3 GB on that CT,
measured 2026-12-07: unmapped blocks also lost their transparent huge pages' head room).
"""

from __future__ import annotations

import ctypes
import logging
import sys

log = logging.getLogger(__name__)

#: glibc mallopt parameters (malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
#: Free memory at the top of the heap kept for reuse instead of returned to the system (bytes; mallopt
#: takes an int): more than the largest temporaries of a CT analysis.
TRIM_THRESHOLD_BYTES = 2**31 - 1


def keep_freed_memory() -> bool:
    """On glibc, serve large blocks from the heap (no per-block mappings) and keep freed memory for
    reuse; elsewhere nothing. Meant for a process that runs analyses (the command line), called before
    the first one. Returns whether the allocator was tuned."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        log.debug("no mallopt: allocator left as it is")
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    done = bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))
    log.debug("allocator: large blocks from the heap, freed memory kept (%s)", "set" if done else "refused")
    return done
