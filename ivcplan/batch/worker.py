"""What runs for one case, in a worker process (or a Dask worker): pipeline -> outputs -> atomic publish.

A case's outputs are written into a temporary sibling folder together with a marker (`MARKER`: the
hash of inputs and options, and the size and SHA-256 of every file written); the folder is then
renamed into place. A case folder that exists with a valid marker is therefore complete; anything
else (a temporary folder left by a crash) is redone.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ivcplan import parallel
from ivcplan.batch.discover import Case
from ivcplan.batch.summary import key_fields

log = logging.getLogger(__name__)

MARKER = "batch_case.json"
MARKER_FORMAT = "ivcplan.batch-case/1"
TMP_PREFIX = ".tmp-"
OLD_PREFIX = ".old-"
CASE_LOG = "case.log"
#: A case's progress is forwarded to the parent only when it moved by at least this much.
PROGRESS_STEP = 0.02
#: Statuses: "ok" (analysed), "no_ivc" (analysed, outputs written, but no IVC in view) and "failed".
OK, NO_IVC, FAILED = "ok", "no_ivc", "failed"

#: Messages by which SimpleITK/ITK and the C++ runtime say an allocation failed.
_ALLOCATION_MESSAGES = ("Failed to allocate memory", "std::bad_alloc", "bad_alloc", "Cannot allocate memory")

# Set in a pool worker by `init_worker`: queue of (kind, case, ...) events to the parent, and the limit.
_EVENTS: Any = None
_MEMORY_LIMIT: int | None = None
_BASELINE_VM: int | None = None


@dataclass(frozen=True)
class CaseTask:
    case: Case
    cases_dir: str
    key: str  # hash of inputs + options: what the marker must match
    outputs: tuple[str, ...] | str
    rules: str | None = None
    clinical: dict[str, Any] | None = None  # this case's clinical facts (weight_kg, history)
    anonymize: bool = False
    assume_spacing: tuple[float, float, float] | None = None


def _address_space() -> int | None:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def init_worker(events: Any, memory_limit: int | None, threads: int | None) -> None:
    """Initializer of a local pool worker: event queue, address-space limit, quiet stderr."""
    global _EVENTS, _MEMORY_LIMIT, _BASELINE_VM
    _EVENTS = events
    if events is not None:
        events.cancel_join_thread()  # a worker must be able to exit even if the parent stopped reading
    _die_with_parent()
    logging.captureWarnings(True)  # numpy/scipy warnings go to the case log, not to the parent's terminal
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.NullHandler())  # no "last resort" printing to stderr
    logging.getLogger("ivcplan").setLevel(logging.INFO)
    if threads:
        set_threads(threads)
    if memory_limit:
        import resource

        _BASELINE_VM = _address_space()
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        soft = memory_limit if hard == resource.RLIM_INFINITY else min(memory_limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        _MEMORY_LIMIT = soft


def set_threads(threads: int) -> None:
    """Threads for SimpleITK filters and ivcplan's own parallel steps in this process: each case gets its
    share of the cores, not all of them."""
    parallel.set_threads(max(1, int(threads)))
    try:
        import SimpleITK as sitk

        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(max(1, int(threads)))
    except (ImportError, AttributeError):  # pragma: no cover - SimpleITK is a dependency
        pass


def run_case_on_dask(task: CaseTask, threads_by_host: Mapping[str, int]) -> dict[str, Any]:
    """`run_case` in a Dask worker. The cluster's task slots on this host share its cores: without this,
    every case's ITK filters would start one thread per core and the slots would oversubscribe them."""
    with contextlib.suppress(ImportError, ValueError):
        from distributed import get_worker

        host = get_worker().address.rsplit(":", 1)[0]
        slots = max(1, int(threads_by_host.get(host, 1)))
        set_threads((os.cpu_count() or 1) // slots)
    _undo_malloc_trim()
    return run_case(task)


_MALLOC_TUNED = False
#: glibc's own ceilings for its dynamic mmap threshold on 64-bit, and twice that for trimming.
_MMAP_THRESHOLD = 32 << 20
_TRIM_THRESHOLD = 64 << 20


def _undo_malloc_trim() -> None:
    """A Dask nanny starts its workers with MALLOC_TRIM_THRESHOLD_=65536. Setting it switches off glibc's
    dynamic mmap threshold, so every array over 128 KiB is a fresh mmap whose pages fault in again:
    the pipeline ran about 30 % slower (1.5 s vs 1.15 s per small case). Restore glibc's usual ceilings."""
    global _MALLOC_TUNED
    if _MALLOC_TUNED or "MALLOC_TRIM_THRESHOLD_" not in os.environ:
        return
    _MALLOC_TUNED = True
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
        libc.mallopt(m_mmap_threshold, _MMAP_THRESHOLD)
        libc.mallopt(m_trim_threshold, _TRIM_THRESHOLD)


def _die_with_parent() -> None:
    """Linux: have the kernel kill this worker when the batch process dies (no orphans writing outputs)."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: workers exit when their call queue closes
        pass


def _emit(*event: Any) -> None:
    if _EVENTS is not None:
        with contextlib.suppress(OSError, ValueError):  # parent gone or queue closed: progress is best effort
            _EVENTS.put(event)


class _ThreadFilter(logging.Filter):
    """Keep only the records of one thread and its helpers (Dask runs several cases in one process)."""

    def __init__(self, ident: int) -> None:
        super().__init__()
        self.ident = ident

    def filter(self, record: logging.LogRecord) -> bool:
        return parallel.owner_of(record.thread) == self.ident


def _manifest(folder: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MARKER):
        h = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                h.update(block)
        out[path.relative_to(folder).as_posix()] = {"size": path.stat().st_size, "sha256": h.hexdigest()}
    return out


def verify(folder: Path, key: str, *, check_hashes: bool = True) -> dict[str, Any] | None:
    """The stored result if ``folder`` holds a complete case for ``key``, else None."""
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(marker, Mapping) or marker.get("format") != MARKER_FORMAT or marker.get("key") != key:
        return None
    files = marker.get("files")
    if not isinstance(files, Mapping):
        return None
    for rel, expected in files.items():
        path = folder / rel
        try:
            if path.stat().st_size != expected.get("size"):
                return None
        except OSError:
            return None
    if check_hashes and _manifest(folder) != dict(files):
        return None
    result = marker.get("result")
    return dict(result) if isinstance(result, Mapping) else None


def publish(tmp: Path, final: Path) -> None:
    """Move a finished temporary case folder into place atomically (replacing an older one)."""
    old = None
    if final.exists():
        old = final.with_name(f"{OLD_PREFIX}{final.name}-{uuid.uuid4().hex[:8]}")
        os.rename(final, old)
    os.rename(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def withdraw(final: Path) -> None:
    """Remove the outputs of an earlier run of a case that has now failed: they are not the current
    result (their inputs or options differ, or --force asked to redo the case), so neither they nor their
    "finished" marker may stay. Moved aside first, so a reader never sees a half-deleted folder."""
    if not final.exists():
        return
    old = final.with_name(f"{OLD_PREFIX}{final.name}-{uuid.uuid4().hex[:8]}")
    try:
        os.rename(final, old)
    except OSError as exc:  # cannot move it: at least take the marker away
        logging.getLogger(__name__).warning("cannot withdraw the earlier outputs in %s (%s)", final, exc)
        with contextlib.suppress(OSError):
            (final / MARKER).unlink()
        return
    logging.getLogger(__name__).info("earlier outputs of %s withdrawn: the case failed this time", final.name)
    shutil.rmtree(old, ignore_errors=True)


def _describe_memory_error(exc: BaseException) -> str:
    limit = f"{_MEMORY_LIMIT / 2**30:.2f} GiB" if _MEMORY_LIMIT else "none set"
    base = f"; address space at worker start {_BASELINE_VM / 2**30:.2f} GiB" if _BASELINE_VM else ""
    detail = f" ({str(exc).strip().splitlines()[-1][:200]})" if str(exc).strip() else ""
    return f"out of memory{detail}: the case needs more memory than the worker may use (limit {limit}{base})"


def _is_allocation_failure(exc: BaseException) -> bool:
    """C++ libraries (ITK, VTK) report a failed allocation as a RuntimeError, not a MemoryError."""
    text = str(exc)
    return isinstance(exc, RuntimeError) and any(m in text for m in _ALLOCATION_MESSAGES)


def _outcome(report: Mapping[str, Any], warnings: tuple[str, ...]) -> tuple[str, str | None, str | None]:
    if (report.get("ivc") or {}).get("detected"):
        return OK, None, None
    why = next((w for w in warnings if w.startswith("IVC not found")), "IVC not found")
    return NO_IVC, "NoIVC", f"no IVC in the field of view: {why}"


def run_case(task: CaseTask) -> dict[str, Any]:
    """Analyse one case and publish its outputs; never raises for a bad case (the result says why)."""
    case = task.case
    started = time.perf_counter()
    _emit("start", case.name, os.getpid())
    cases_dir = Path(task.cases_dir)
    tmp = cases_dir / f"{TMP_PREFIX}{case.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    handler = logging.FileHandler(tmp / CASE_LOG, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_ThreadFilter(threading.get_ident()))
    handler.setLevel(logging.INFO)
    root = logging.getLogger()
    root.addHandler(handler)
    result: dict[str, Any] = {**case.to_dict(), "status": FAILED, "error_type": None, "error": None,
                              "traceback": None, "warnings": [], "timings_s": {}, "measurements": {},
                              "outputs": [], "output_dir": None, "worker": f"{socket.gethostname()}:{os.getpid()}"}
    last = [0.0, ""]

    def progress(stage: str, fraction: float) -> None:
        if stage != last[1] or fraction - last[0] >= PROGRESS_STEP or fraction >= 1.0:
            last[:] = [fraction, stage]
            _emit("progress", case.name, stage, float(fraction))

    try:
        from ivcplan import pipeline
        from ivcplan.outputs import write_outputs

        logging.getLogger(__name__).info("case %s: %s (series %s)", case.name, case.source, case.series)
        analysis = pipeline.run(case.source, series=case.series, rules=task.rules, clinical=task.clinical,
                                anonymize=task.anonymize, progress=progress, assume_spacing=task.assume_spacing)
        t_write = time.perf_counter()
        skipped: dict[str, str] = {}
        written = write_outputs(analysis, tmp, task.outputs, skipped=skipped)
        timings = dict(analysis.timings_s)
        timings["write"] = round(time.perf_counter() - t_write, 3)
        status, error_type, error = _outcome(analysis.report, analysis.warnings)
        notes = [f"output {kind} not written: {why}" for kind, why in skipped.items()]
        result.update(status=status, error_type=error_type, error=error, warnings=[*analysis.warnings, *notes],
                      timings_s=timings, measurements=key_fields(analysis.report),
                      outputs=sorted(Path(p).relative_to(tmp).as_posix() for p in written.values()))
    except MemoryError as exc:
        result.update(error_type="MemoryError", error=_describe_memory_error(exc), traceback=traceback.format_exc())
    except Exception as exc:  # a bad case is recorded, never allowed to stop the batch
        if _is_allocation_failure(exc):
            result.update(error_type="MemoryError", error=_describe_memory_error(exc),
                          traceback=traceback.format_exc())
        else:
            result.update(error_type=type(exc).__name__, error=str(exc) or type(exc).__name__,
                          traceback=traceback.format_exc())
    finally:
        root.removeHandler(handler)
        handler.close()
    result["timings_s"]["total"] = round(time.perf_counter() - started, 3)
    if result["status"] == FAILED:
        logging.getLogger(__name__).info("case %s failed: %s", case.name, result["error"])
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        final = cases_dir / case.name
        result["output_dir"] = final.relative_to(cases_dir.parent).as_posix()
        marker = {"format": MARKER_FORMAT, "key": task.key, "files": _manifest(tmp), "result": result}
        (tmp / MARKER).write_text(json.dumps(marker, indent=2, default=str) + "\n", encoding="utf-8")
        publish(tmp, final)
    _emit("end", case.name, os.getpid())
    return result
