"""Run every case of a batch on local worker processes or on a Dask cluster; collect, resume, summarise.

Local: a `ProcessPoolExecutor` (spawned workers, optional address-space limit). A worker that dies
(killed by the system, crashed) breaks the pool: the cases that were running become suspects and are
retried one at a time in a pool of their own, the others are resubmitted; a case is recorded as
failed only when it kills a worker while running alone. Dask: the same `run_case` is submitted to an
existing scheduler; the scheduler retries tasks whose worker died and reports `KilledWorker` after.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import multiprocessing
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ivcplan.batch import worker as wk
from ivcplan.batch.discover import Case, Discovery, discover, fingerprint
from ivcplan.batch.summary import write_summary
from ivcplan.errors import InputError, OptionError
from ivcplan.parallel import owner_of
from ivcplan.progress import ProgressCallback, no_progress

log = logging.getLogger(__name__)

CASES_DIR = "cases"
LOG_NAME = "batch.log"
LOCK_NAME = ".batch.lock"
BATCH_FORMAT = "ivcplan.batch/1"
#: Exit statuses of `ivcplan batch` (2 is a usage error, as everywhere in the CLI).
EXIT_OK, EXIT_PARTIAL, EXIT_NONE_SUCCEEDED = 0, 3, 4
#: A case caught in this many broken pools is retried alone even if its start was never reported.
MAX_SHARED_BREAKS = 2
#: Seconds to wait for a Dask scheduler to answer.
DASK_CONNECT_TIMEOUT_S = 20.0
#: How long the event listener waits for the end-of-round sentinel after a pool shut down.
DRAIN_TIMEOUT_S = 5.0

EventCallback = Callable[["BatchEvent"], None]


@dataclass(frozen=True)
class BatchEvent:
    """What the runner tells its caller (the CLI draws it): one case started/progressed/finished..."""

    kind: str  # "discovered" | "resumed" | "started" | "progress" | "finished" | "retry" | "done"
    case: str | None
    total: int
    done: int
    failed: int
    fraction: float = 0.0  # overall, running cases counted by their own progress
    pid: int | None = None
    stage: str = ""
    result: dict[str, Any] | None = None


@dataclass
class BatchResult:
    outdir: Path
    discovery: Discovery
    results: list[dict[str, Any]]
    summary_csv: Path
    summary_json: Path
    log_path: Path
    elapsed_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def n_ok(self) -> int:
        return sum(r["status"] == wk.OK for r in self.results)

    @property
    def n_failed(self) -> int:
        return len(self.results) - self.n_ok

    @property
    def n_resumed(self) -> int:
        return sum(bool(r.get("resumed")) for r in self.results)

    @property
    def exit_code(self) -> int:
        """0: every case analysed; 3: some failed; 4: none succeeded (or nothing found)."""
        if self.results and self.n_failed == 0:
            return EXIT_OK
        return EXIT_PARTIAL if self.n_ok else EXIT_NONE_SUCCEEDED


# -- options -----------------------------------------------------------------------------------------
_UNITS = {"": 1, "B": 1, "K": 2**10, "KB": 2**10, "KIB": 2**10, "M": 2**20, "MB": 2**20, "MIB": 2**20,
          "G": 2**30, "GB": 2**30, "GIB": 2**30, "T": 2**40, "TB": 2**40, "TIB": 2**40}


def parse_memory(text: str | int | None) -> int | None:
    """``"4GB"``, ``"512M"``, ``"1.5GiB"``, ``"2000000000"`` -> bytes (binary units); None stays None."""
    if text is None or isinstance(text, int):
        return text
    raw = str(text).strip().upper().replace(" ", "")
    number = raw.rstrip("KMGTIB")
    unit = raw[len(number):]
    try:
        value = float(number)
    except ValueError:
        value = -1.0
    if unit not in _UNITS or not value > 0:
        raise OptionError(f"cannot read {text!r} as a memory size (e.g. 4GB, 512MB)", "--memory-limit")
    return int(value * _UNITS[unit])


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _options_key(outputs: tuple[str, ...] | str, rules: str | None, anonymize: bool = False,
                 assume_spacing: tuple[float, float, float] | None = None) -> str:
    from ivcplan import __version__

    rules_hash = None
    if rules is not None:
        rules_hash = hashlib.sha256(Path(rules).read_bytes()).hexdigest()
    doc = {"format": BATCH_FORMAT, "version": __version__,
           "outputs": outputs if isinstance(outputs, str) else sorted(outputs), "rules": rules_hash,
           "anonymize": bool(anonymize)}
    if assume_spacing is not None:  # only when given: keys of earlier batches stay valid
        doc["assume_spacing"] = list(assume_spacing)
    return json.dumps(doc, sort_keys=True)


#: Columns of a batch's clinical facts file (CSV, one row per case; empty cells are unknown).
CLINICAL_COLUMNS = ("case", "weight_kg", "prior_chemotherapy", "liver_fibrosis")


def load_clinical(path: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """Per-case clinical facts from a CSV file (columns `CLINICAL_COLUMNS`; ``case`` is the case name as
    in the batch's summary). Raises `InputError` naming the file, the line and the problem."""
    import csv

    from ivcplan.report.contract import clinical_section

    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read the clinical facts file: {exc}", path) from None
    rows = list(csv.DictReader(text.splitlines()))
    fields = set(rows[0]) if rows else set()
    if "case" not in fields or fields - set(CLINICAL_COLUMNS):
        raise InputError(f"clinical facts file needs a 'case' column and only {', '.join(CLINICAL_COLUMNS)}; "
                         f"got {sorted(fields)}", path)
    out: dict[str, dict[str, Any]] = {}
    for line, row in enumerate(rows, start=2):
        facts: dict[str, Any] = {}
        for key in CLINICAL_COLUMNS[1:]:
            cell = (row.get(key) or "").strip().lower()
            if not cell:
                continue
            if key == "weight_kg":
                try:
                    facts[key] = float(cell)
                except ValueError:
                    raise InputError(f"line {line}: weight_kg must be a number, got {cell!r}", path) from None
            elif cell in ("true", "yes", "1", "false", "no", "0"):
                facts[key] = cell in ("true", "yes", "1")
            else:
                raise InputError(f"line {line}: {key} must be true or false (or empty), got {cell!r}", path)
        try:
            clinical_section(facts)
        except InputError as exc:
            message = str(exc).removeprefix(f"{exc.path}: ") if exc.path else str(exc)
            raise InputError(f"line {line}: {message}", path) from None
        out[row["case"].strip()] = facts
    return out


def _check_outputs(outputs: Iterable[str] | str) -> tuple[str, ...] | str:
    from ivcplan import outputs as output_kinds

    if isinstance(outputs, str) and outputs == output_kinds.ALL:
        return output_kinds.ALL
    wanted = (outputs,) if isinstance(outputs, str) else tuple(outputs)
    wanted = tuple(dict.fromkeys(k.strip() for k in wanted if k.strip()))
    if not wanted:
        raise OptionError("no output kind given", "--outputs")
    known = output_kinds.kind_names()
    unknown = [k for k in wanted if k not in known]
    if unknown:
        raise OptionError(f"unknown output kind(s) {unknown}; available: {', '.join(known)}", "--outputs")
    return wanted


# -- output folder -------------------------------------------------------------------------------------
@contextlib.contextmanager
def _locked(outdir: Path) -> Iterator[None]:
    fh = open(outdir / LOCK_NAME, "a+")  # noqa: SIM115 - held for the whole batch
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise OptionError("another batch is writing into this output folder", outdir) from None
        yield
    finally:
        fh.close()


@contextlib.contextmanager
def _batch_log(path: Path) -> Iterator[None]:
    logger = logging.getLogger("ivcplan")
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    owner = threading.get_ident()  # records of Dask worker threads in this process belong to their case logs
    handler.addFilter(lambda record: owner_of(record.thread) == owner or record.name.startswith("ivcplan.batch"))
    old_level = logger.level
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        handler.close()


def _clean_stale(cases_dir: Path) -> int:
    """Remove temporary folders left by an interrupted batch (their cases are redone)."""
    n = 0
    for p in cases_dir.iterdir() if cases_dir.is_dir() else ():
        if p.is_dir() and p.name.startswith((wk.TMP_PREFIX, wk.OLD_PREFIX)):
            shutil.rmtree(p, ignore_errors=True)
            n += 1
    return n


# -- progress bookkeeping --------------------------------------------------------------------------
class _Tracker:
    """Counts and per-case fractions, turned into events and the (stage, fraction) callback."""

    def __init__(self, total: int, on_event: EventCallback | None, progress: ProgressCallback) -> None:
        self.total = total
        self.on_event = on_event
        self.progress = progress
        self.done = 0
        self.failed = 0
        self.running: dict[str, float] = {}
        self.pids: dict[str, int] = {}
        self.lock = threading.RLock()

    def fraction(self) -> float:
        if not self.total:
            return 1.0
        return min(1.0, (self.done + sum(self.running.values())) / self.total)

    def emit(self, kind: str, case: str | None = None, **kw: Any) -> None:
        with self.lock:
            event = BatchEvent(kind, case, self.total, self.done, self.failed, self.fraction(), **kw)
            self.progress(f"{self.done}/{self.total} cases, {self.failed} failed", event.fraction)
            if self.on_event is not None:
                self.on_event(event)

    def started(self, case: str, pid: int | None) -> None:
        with self.lock:
            self.running[case] = 0.0
            if pid is not None:
                self.pids[case] = pid
        self.emit("started", case, pid=pid)

    def moved(self, case: str, stage: str, fraction: float) -> None:
        with self.lock:
            if case not in self.running:
                return
            self.running[case] = max(0.0, min(1.0, fraction)) * 0.999
        self.emit("progress", case, stage=stage)

    def ended(self, case: str) -> None:
        with self.lock:
            self.running.pop(case, None)

    def finished(self, result: dict[str, Any], kind: str = "finished") -> None:
        with self.lock:
            self.running.pop(result["case"], None)
            self.done += 1
            self.failed += result["status"] != wk.OK
        self.emit(kind, result["case"], result=result)


def _failure(case: Case, error_type: str, message: str, attempts: int) -> dict[str, Any]:
    return {**case.to_dict(), "status": wk.FAILED, "error_type": error_type, "error": message, "traceback": None,
            "warnings": [], "timings_s": {}, "measurements": {}, "outputs": [], "output_dir": None, "worker": None,
            "attempts": attempts, "resumed": False}


# -- local processes -----------------------------------------------------------------------------------
class _Listener:
    """Reads the workers' (start / progress / end) events of one pool round on a thread."""

    _STOP = ("__stop__",)

    def __init__(self, events: Any, tracker: _Tracker) -> None:
        self.events = events
        self.tracker = tracker
        self.started: dict[str, int] = {}
        self.ended: set[str] = set()
        self.thread = threading.Thread(target=self._loop, name="ivcplan-batch-events", daemon=True)
        self.stopped = threading.Event()
        self.thread.start()

    def _loop(self) -> None:
        while True:
            try:
                event = self.events.get()
            except (EOFError, OSError, ValueError):
                break
            if tuple(event) == self._STOP:
                break
            kind, case = event[0], event[1]
            if kind == "start":
                self.started[case] = event[2]
                self.tracker.started(case, event[2])
            elif kind == "progress":
                self.tracker.moved(case, event[2], event[3])
            elif kind == "end":
                self.ended.add(case)
                self.tracker.ended(case)
        self.stopped.set()

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.events.put(self._STOP)
        self.stopped.wait(DRAIN_TIMEOUT_S)

    def running(self) -> set[str]:
        return set(self.started) - self.ended


class _Local:
    def __init__(self, jobs: int, memory_limit: int | None, threads: int | None, tracker: _Tracker,
                 record: Callable[[dict[str, Any]], None]) -> None:
        self.jobs = jobs
        self.memory_limit = memory_limit
        self.threads = threads
        self.tracker = tracker
        self.record = record
        self.ctx = multiprocessing.get_context("spawn")  # no inherited threads/locks from the parent
        self.attempts: dict[str, int] = {}
        self.breaks: dict[str, int] = {}

    def run(self, tasks: list[wk.CaseTask]) -> None:
        pending, suspects = list(tasks), []
        while pending or suspects:
            if pending:
                crashed, unfinished = self._round(pending, self.jobs)
                pending = [t for t in unfinished if self.breaks.get(t.case.name, 0) < MAX_SHARED_BREAKS]
                suspects += crashed + [t for t in unfinished if t not in pending]
                continue
            task = suspects.pop(0)
            self.tracker.emit("retry", task.case.name)
            log.warning("case %s was running when a worker died: retrying it alone", task.case.name)
            crashed, unfinished = self._round([task], 1)
            if crashed or unfinished:
                hint = f" (memory limit {self.memory_limit / 2**30:.2f} GiB)" if self.memory_limit else ""
                self._record(_failure(task.case, "WorkerDied",
                                      "the worker process died while analysing this case, also when retried alone: "
                                      f"killed by the system (e.g. out of memory{hint}) or crashed",
                                      self.attempts.get(task.case.name, 0)))

    def _record(self, result: dict[str, Any]) -> None:
        result.setdefault("attempts", self.attempts.get(result["case"], 1))
        result.setdefault("resumed", False)
        self.record(result)

    def _round(self, tasks: list[wk.CaseTask], n_workers: int) -> tuple[list[wk.CaseTask], list[wk.CaseTask]]:
        """Run ``tasks``; return (crashed, unfinished): cases running when a worker died, and the rest."""
        events = self.ctx.Queue()
        listener = _Listener(events, self.tracker)
        pool = ProcessPoolExecutor(max_workers=max(1, min(n_workers, len(tasks))), mp_context=self.ctx,
                                   initializer=wk.init_worker, initargs=(events, self.memory_limit, self.threads))
        futures = {}
        recorded: set[str] = set()
        broken = False
        try:
            for t in tasks:
                futures[pool.submit(wk.run_case, t)] = t
            remaining = set(futures)
            while remaining:
                done, remaining = wait(remaining, return_when=FIRST_COMPLETED)
                for fut in done:
                    task = futures[fut]
                    name = task.case.name
                    try:
                        result = fut.result()
                    except BrokenProcessPool:
                        broken = True
                        continue
                    except Exception as exc:  # e.g. a result that cannot be pickled back
                        result = _failure(task.case, type(exc).__name__, str(exc), 0)
                    self.attempts[name] = self.attempts.get(name, 0) + 1
                    recorded.add(name)
                    self._record({**result, "attempts": self.attempts[name]})
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            listener.close()
            raise
        pool.shutdown(wait=True)
        listener.close()
        events.close()
        if not broken:
            return [], []
        running = listener.running()
        crashed, unfinished = [], []
        for t in tasks:
            name = t.case.name
            if name in recorded:
                continue
            self.tracker.ended(name)
            self.breaks[name] = self.breaks.get(name, 0) + 1
            if name in running:
                self.attempts[name] = self.attempts.get(name, 0) + 1
                crashed.append(t)
            else:
                unfinished.append(t)
        log.warning("a worker process died; %d case(s) were running: %s", len(crashed),
                    ", ".join(t.case.name for t in crashed) or "unknown")
        return crashed, unfinished


# -- Dask ----------------------------------------------------------------------------------------------
def _run_dask(address: str, tasks: list[wk.CaseTask], tracker: _Tracker,
              record: Callable[[dict[str, Any]], None], timeout_s: float) -> None:
    try:
        from distributed import Client, as_completed
    except ImportError as exc:  # a dependency: fail loudly
        raise OptionError(f"dask.distributed is needed for --scheduler ({exc})", "--scheduler") from None
    try:
        client = Client(address, timeout=timeout_s, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise OptionError(f"cannot connect to the Dask scheduler ({type(exc).__name__}: {exc})", address) from None
    token = uuid.uuid4().hex[:8]
    try:
        futures = {}
        slots = _threads_by_host(client)
        for t in tasks:
            fut = client.submit(wk.run_case_on_dask, t, slots, key=f"ivcplan-batch-{t.case.name}-{token}",
                                pure=False)
            futures[fut] = t
            tracker.started(t.case.name, None)
        for fut in as_completed(list(futures), loop=client.loop):
            task = futures[fut]
            try:
                result = fut.result()
            except Exception as exc:  # KilledWorker, lost connection...
                name = type(exc).__name__
                message = (f"the Dask worker running this case died repeatedly ({exc})" if name == "KilledWorker"
                           else f"{exc}")
                result = _failure(task.case, name, message, 1)
            record({**result, "attempts": result.get("attempts") or 1, "resumed": False})
            fut.release()
    finally:
        client.close()


def _threads_by_host(client: Any) -> dict[str, int]:
    """Task slots (worker threads) per host of the cluster, e.g. {"tcp://10.0.0.5": 4}."""
    slots: dict[str, int] = {}
    for address, worker in client.scheduler_info().get("workers", {}).items():
        host = address.rsplit(":", 1)[0]
        slots[host] = slots.get(host, 0) + int(worker.get("nthreads", 1))
    return slots


# -- the batch -----------------------------------------------------------------------------------------
def run_batch(root: str | os.PathLike, outdir: str | os.PathLike, *, jobs: int | None = None, force: bool = False,
              outputs: Iterable[str] | str = "all", rules: str | os.PathLike | None = None,
              memory_limit: int | str | None = None, scheduler: str | None = None,
              threads_per_worker: int | None = None, scheduler_timeout_s: float = DASK_CONNECT_TIMEOUT_S,
              clinical: Mapping[str, Mapping[str, Any]] | None = None, weight_kg: float | None = None,
              anonymize: bool = False, progress: ProgressCallback | None = None,
              on_event: EventCallback | None = None,
              assume_spacing: tuple[float, float, float] | None = None) -> BatchResult:
    """Analyse every case under ``root`` into ``outdir`` (one folder per case under ``outdir/cases``,
    ``summary.csv``, ``summary.json``, ``batch.log``); finished cases are skipped unless ``force``.

    ``clinical``: case name -> clinical facts (`load_clinical`); ``weight_kg`` applies to every case
    without its own weight (a batch of one patient's series); ``anonymize`` as in `pipeline.run`;
    ``assume_spacing`` (z, y, x mm) is handed to every case (NIfTI files without a spatial header)."""
    from ivcplan.io.files import regular_file_problem, require_file_or_folder
    from ivcplan.plan import load_rules

    t0 = time.perf_counter()
    if jobs is not None and int(jobs) < 1:
        raise OptionError(f"must be at least 1, got {jobs}", "--jobs")
    n_jobs = int(jobs) if jobs else default_jobs()
    limit = parse_memory(memory_limit)
    kinds = _check_outputs(outputs)
    rules_path = None
    if rules is not None:
        rules_path = str(Path(rules).resolve())
        problem = regular_file_problem(rules_path)
        if problem:
            raise OptionError(f"rules file {problem}", rules)
        load_rules(rules_path)  # a bad rules file fails here, not in every case
    if not os.path.lexists(root):
        raise OptionError("input root does not exist", root)
    try:
        root_path = require_file_or_folder(root, "input root")
    except InputError as exc:
        raise OptionError(str(exc).removeprefix(f"{exc.path}: "), root) from None
    out = Path(outdir)
    if out.exists() and not out.is_dir():
        raise OptionError("output path exists and is not a directory", out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        out = out.resolve()
        cases_dir = out / CASES_DIR
        cases_dir.mkdir(exist_ok=True)
        probe = cases_dir / f".write-test-{os.getpid()}"
        probe.mkdir()
        probe.rmdir()
    except OSError as exc:
        raise OptionError(f"cannot write in the output folder ({exc.strerror or exc}: {exc.filename or out})",
                          outdir) from None
    report = progress or no_progress
    with _locked(out), _batch_log(out / LOG_NAME):
        log.info("batch %s -> %s (jobs=%s, outputs=%s, force=%s, memory limit=%s, scheduler=%s)", root_path, out,
                 n_jobs, kinds, force, limit, scheduler or "local")
        stale = _clean_stale(cases_dir)
        if stale:
            log.info("removed %d temporary folder(s) left by an interrupted batch", stale)
        discovery = discover(root_path, exclude=[out], progress=lambda s, f: report(s, 0.0))
        for ig in discovery.ignored:
            log.info("not a case: %s (%s: %s)", ig.relpath, ig.modality, ig.reason)
        for ig in discovery.unreadable:
            log.warning("not read: %s (%s)", ig.relpath, ig.reason)
        options = _options_key(kinds, rules_path, anonymize, assume_spacing)
        tracker = _Tracker(len(discovery.cases), on_event, report)
        tracker.emit("discovered")
        results: dict[str, dict[str, Any]] = {}
        notes: list[str] = []
        info = {"root": str(discovery.root), "outdir": str(out), "jobs": n_jobs, "scheduler": scheduler,
                "outputs": kinds, "memory_limit_bytes": limit, "rules": rules_path,
                "ignored": [i.to_dict() for i in (*discovery.ignored, *discovery.unreadable)], "notes": notes}
        summary_lock = threading.Lock()

        def record(result: dict[str, Any]) -> None:
            with summary_lock:
                if result["status"] == wk.FAILED and not result.get("resumed"):
                    wk.withdraw(cases_dir / result["case"])  # an earlier run's outputs are not this result
                results[result["case"]] = result
                _log_result(result)
                tracker.finished(result, "resumed" if result.get("resumed") else "finished")
                write_summary(out, list(results.values()), {**info, "complete": False})

        tasks = []
        for case in discovery.cases:
            facts = dict((clinical or {}).get(case.name, {}))
            if weight_kg is not None:
                facts.setdefault("weight_kg", float(weight_kg))
            facts_key = json.dumps(facts, sort_keys=True)
            key = hashlib.sha256(f"{fingerprint(case)}\n{options}\n{facts_key}".encode()).hexdigest()
            stored = None if force else wk.verify(cases_dir / case.name, key)
            if stored is not None:
                record({**stored, "resumed": True})
            else:
                tasks.append(wk.CaseTask(case, str(cases_dir), key, kinds, rules_path, facts or None, anonymize,
                                         assume_spacing))
        log.info("%d case(s) found, %d already finished, %d to run", len(discovery.cases),
                 len(discovery.cases) - len(tasks), len(tasks))
        if tasks and scheduler:
            if limit:
                notes.append("--memory-limit applies to local workers only; on a Dask cluster the workers' own "
                             "memory limit governs")
                log.warning(notes[-1])
            _run_dask(scheduler, tasks, tracker, record, scheduler_timeout_s)
        elif tasks:
            threads = threads_per_worker or max(1, default_jobs() // n_jobs)
            _Local(n_jobs, limit, threads, tracker, record).run(tasks)
        _clean_stale(cases_dir)  # folders of workers that died mid-case (their cases were redone or recorded)
        elapsed = time.perf_counter() - t0
        csv_path, json_path = write_summary(out, list(results.values()),
                                            {**info, "complete": True, "elapsed_s": round(elapsed, 3)})
        result = BatchResult(out, discovery, sorted(results.values(), key=lambda r: r["case"]), csv_path, json_path,
                             out / LOG_NAME, elapsed, notes)
        log.info("batch finished in %.1f s: %d ok, %d failed, %d resumed", elapsed, result.n_ok, result.n_failed,
                 result.n_resumed)
        tracker.emit("done")
    return result


def _log_result(result: dict[str, Any]) -> None:
    name = result["case"]
    if result.get("resumed"):
        log.info("case %s: already finished (%s), skipped", name, result["status"])
    elif result["status"] == wk.OK:
        log.info("case %s: ok in %.1f s", name, (result.get("timings_s") or {}).get("total", 0.0))
    else:
        log.warning("case %s (%s): %s: %s: %s", name, result.get("source"), result["status"], result.get("error_type"),
                    result.get("error"))
        if result.get("traceback"):
            log.info("case %s traceback:\n%s", name, result["traceback"])


__all__ = ["EXIT_NONE_SUCCEEDED", "EXIT_OK", "EXIT_PARTIAL", "BatchEvent", "BatchResult", "parse_memory",
           "run_batch"]
