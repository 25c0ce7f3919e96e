"""The command line's allocator setting (ivcplan.memory): freed large arrays are reused, not faulted in again."""

from __future__ import annotations

import subprocess
import sys

#: A child process allocates and frees an 80 MB array ten times (after one warm-up) and prints the page
#: faults of those ten; with the setting made (argv[1] == "1") by the same call the command line makes.
_CHILD = """
import resource, sys
import numpy as np
if sys.argv[1] == "1":
    from ivcplan.memory import keep_freed_memory
    assert keep_freed_memory()
elif sys.argv[1] == "cli":  # the console script's entry point, as a user runs it
    from ivcplan.cli import main
    sys.argv = ["ivcplan", "version"]
    try:
        main()
    except SystemExit as exc:
        assert exc.code == 0
a = np.ones(80_000_000, np.uint8); del a
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    a = np.ones(80_000_000, np.uint8); del a
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> int:
    run = subprocess.run([sys.executable, "-c", _CHILD, mode], capture_output=True, text=True, check=True)
    return int(run.stdout.split()[-1])


def test_keep_freed_memory_reuses_large_blocks() -> None:
    plain, tuned, cli = _faults("0"), _faults("1"), _faults("cli")
    # Plain glibc maps and unmaps each 80 MB block: thousands of faults (20k 4 kB pages, or 40 huge
    # pages, per array); with the setting, made by the command line too, the freed block is reused.
    assert plain >= 200
    assert tuned <= plain // 20
    assert cli <= plain // 20
