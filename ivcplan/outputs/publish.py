"""Publish a run's output folder atomically: write everything into a staging folder beside OUT, then put
it in OUT's place in one step.

    with Staging(out, source=path, series=series, force=force) as stage:   # checks OUT, creates the stage
        pipeline.write_outputs(analysis, stage.path, kinds)
        stage.publish()                                                     # OUT now holds the new set

Whatever happens before `Staging.publish` (an error, Ctrl-C, SIGKILL), OUT keeps what it held before,
and a crashed run leaves only a hidden staging folder, which the next run for that OUT removes: a set
that looks finished is always complete. OUT is replaced whole, never merged into, so files of an
earlier analysis cannot stay beside the new ones. On Linux the swap of an existing OUT is one
``renameat2(RENAME_EXCHANGE)``; elsewhere two renames.

A folder is recognised as an ivcplan analysis by its marker file (`MARKER`: the input it was made from)
or, for folders written before markers existed, by a ``report.json`` of the ivcplan report schema.
OUT may be replaced without ``force`` when it is empty or holds an analysis of the same input; an
analysis of another input, or anything else, needs ``force``. A folder that holds the input, the
current folder or the home folder is never replaced.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import json
import logging
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ivcplan.errors import OptionError, OutputError

log = logging.getLogger(__name__)

MARKER = ".ivcplan-output.json"
MARKER_FORMAT = "ivcplan.output/1"
STAGING_TAG = ".ivcplan-staging-"
OLD_TAG = ".ivcplan-old-"
#: Files of an existing OUT named in a refusal (the rest are counted).
MAX_NAMED = 3
_RENAME_EXCHANGE = 2


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _read_marker(folder: Path) -> dict[str, Any] | None:
    """The marker of an ivcplan output folder (a stand-in built from report.json for older folders), or None."""
    with contextlib.suppress(OSError, ValueError):
        doc = json.loads((folder / MARKER).read_text(encoding="utf-8"))
        if isinstance(doc, dict) and doc.get("format") == MARKER_FORMAT:
            return doc
    with contextlib.suppress(OSError, ValueError, AttributeError):
        report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
        if str(report.get("schema", "")).startswith("ivcplan.report/"):
            return {"format": "legacy", "source_path": (report.get("input") or {}).get("source_path")}
    return None


@dataclass
class Staging:
    """A staging folder for OUT (see the module docstring). ``source`` and ``series`` identify the input,
    so that a rerun of the same analysis may replace its own earlier output without ``force``."""

    out: Path
    source: Path | None = None
    series: str | None = None
    force: bool = False
    log_name: str = "ivcplan.log"  # a failed run's log (if any) is kept in the temporary folder
    path: Path = field(init=False)
    final: Path = field(init=False)
    replaced: str = field(init=False, default="")  # what OUT held: "", "same input", "other input", "other files"
    published: bool = field(init=False, default=False)
    kept_log: Path | None = field(init=False, default=None)  # where a failed run's log was kept
    _created: list[Path] = field(init=False, default_factory=list)

    # -- checks --------------------------------------------------------------------------------------
    def check(self) -> None:
        """Refuse an unusable OUT (OptionError) before anything is written."""
        out = Path(os.path.abspath(self.out))
        if out.is_symlink() and out.is_dir():
            out = Path(os.path.realpath(out))
        self.final = out
        if out.exists() and not out.is_dir():
            raise OptionError("output folder: exists and is not a folder", out)
        source = Path(os.path.realpath(self.source)) if self.source is not None else None
        real = Path(os.path.realpath(out))
        if source is not None and _inside(source, real):
            raise OptionError(f"output folder: the input {self.source} lies inside it, and it is replaced whole; "
                              "choose another output folder", out)
        protected = {Path(os.path.realpath(Path.home())), Path(os.path.realpath(Path.cwd())), Path("/")}
        if any(_inside(p, real) for p in protected):
            raise OptionError("output folder: it is the current, home or root folder (or holds it), and ivcplan "
                              "replaces its output folder whole; choose an output folder of its own", out)
        if not out.is_dir():
            return
        try:
            entries = sorted(p.name for p in out.iterdir())
        except OSError as exc:
            raise OptionError(f"output folder: cannot be listed ({exc.strerror or exc})", out) from None
        if not entries:
            return
        marker = _read_marker(out)
        if marker is not None and source is not None and self._same_input(marker, source):
            self.replaced = "same input"
            return
        if marker is not None:
            what = f"the analysis of another input ({marker.get('source') or marker.get('source_path') or 'unknown'})"
            self.replaced = "other input"
        else:
            named = ", ".join(entries[:MAX_NAMED]) + (f" and {len(entries) - MAX_NAMED} more" if len(entries) >
                                                      MAX_NAMED else "")
            what = f"files that are not an ivcplan analysis ({named})"
            self.replaced = "other files"
        if not self.force:
            raise OptionError(f"output folder: holds {what}; use --force to replace it whole, or choose another "
                              "output folder", out)

    def _same_input(self, marker: dict[str, Any], source: Path) -> bool:
        if marker.get("format") == MARKER_FORMAT:
            return marker.get("source") == str(source) and marker.get("series") == self.series
        recorded = marker.get("source_path")  # older folder: its report's source lies in our input
        return bool(recorded) and _inside(Path(os.path.realpath(recorded)), source)

    # -- the staging folder ----------------------------------------------------------------------------
    def __enter__(self) -> Staging:
        self.check()
        parent = self.final.parent
        missing = []
        probe = parent
        while not probe.exists():
            missing.append(probe)
            probe = probe.parent
        if not probe.is_dir():
            raise OptionError(f"output folder: cannot be created, {probe} is not a folder", self.final)
        try:
            for folder in reversed(missing):
                folder.mkdir()
                self._created.append(folder)
            self._clean_stale(parent)
            self.path = Path(tempfile.mkdtemp(prefix=f".{self.final.name}{STAGING_TAG}{os.getpid()}-",
                                              dir=parent))
            self.path.chmod(0o777 & ~_umask())  # mkdtemp makes it private; OUT gets the usual permissions
        except OSError as exc:
            self._remove_created()
            raise OptionError(f"output folder: cannot write in {exc.filename or parent} ({exc.strerror or exc})",
                              self.final) from None
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self.published:
            self._discard()

    def _discard(self) -> None:
        """Remove the stage (keeping a log it holds in the temporary folder) and the folders created for it."""
        p = self.path / self.log_name
        if p.is_file() and p.stat().st_size:
            stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
            target = Path(tempfile.gettempdir()) / f"ivcplan-{self.final.name}-{stamp}-{os.getpid()}.log"
            with contextlib.suppress(OSError):
                shutil.move(str(p), target)
                self.kept_log = target
        shutil.rmtree(self.path, ignore_errors=True)
        self._remove_created()

    def _remove_created(self) -> None:
        for folder in reversed(self._created):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if still empty
        self._created.clear()

    def _clean_stale(self, parent: Path) -> None:
        """Remove staging folders of runs for this OUT that died (their process is gone), and restore an
        OUT left aside by a run killed between the two renames of the fallback swap."""
        prefix = f".{self.final.name}"
        for p in parent.glob(f"{prefix}{STAGING_TAG}*"):
            pid = p.name[len(prefix) + len(STAGING_TAG):].split("-", 1)[0]
            if p.is_dir() and pid.isdigit() and not _pid_alive(int(pid)):
                shutil.rmtree(p, ignore_errors=True)
        olds = sorted(parent.glob(f"{prefix}{OLD_TAG}*"))
        if olds and not self.final.exists():
            os.rename(olds[-1], self.final)
            olds = olds[:-1]
        for p in olds:
            shutil.rmtree(p, ignore_errors=True)

    # -- publishing ------------------------------------------------------------------------------------
    def final_path(self, path: str | os.PathLike) -> Path:
        """Where a file written into the stage lives once published."""
        return self.final / Path(path).relative_to(self.path)

    def publish(self, extra: dict[str, Any] | None = None) -> Path:
        """Write the marker (last) and put the stage in OUT's place; returns OUT."""
        marker = {"format": MARKER_FORMAT, "source": str(Path(os.path.realpath(self.source))) if self.source else None,
                  "series": self.series, "written": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                  "files": sorted(p.relative_to(self.path).as_posix() for p in self.path.rglob("*") if p.is_file()),
                  **(extra or {})}
        try:
            (self.path / MARKER).write_text(json.dumps(marker, indent=2, default=str) + "\n", encoding="utf-8")
            self._swap()
        except OSError as exc:
            raise OutputError(f"cannot publish the output folder ({exc.strerror or exc})", self.final) from None
        self.published = True
        self._created.clear()
        return self.final

    def _swap(self) -> None:
        if not self.final.exists():
            os.rename(self.path, self.final)
            return
        if _exchange(self.path, self.final):  # the stage now holds the old OUT
            shutil.rmtree(self.path, ignore_errors=True)
            return
        old = self.final.with_name(f".{self.final.name}{OLD_TAG}{uuid.uuid4().hex[:8]}")
        os.rename(self.final, old)
        os.rename(self.path, self.final)
        shutil.rmtree(old, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False when the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    log.debug("renameat2 exchange unavailable (errno %d): two renames instead", ctypes.get_errno())
    return False
