"""Which paths may be read: regular files only. A named pipe, socket or device in an input folder would
block (a FIFO's open() waits for a writer forever) or stream without end, so it is never opened: its
type is read with ``os.stat``, which does not open it."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ivcplan.errors import InputError


@dataclass(frozen=True)
class Unreadable:
    """A file found under an input that was not read, and why."""

    path: str
    reason: str
    #: False for a file that is simply not DICOM (a README beside the series): worth a debug line only.
    notable: bool = True

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a folder"))


def kind_of(mode: int) -> str:
    """'a named pipe (FIFO)', 'a socket'... for a stat mode that is not a regular file."""
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def regular_file_problem(path: str | os.PathLike) -> str | None:
    """Why ``path`` cannot be read as a file (None when it is a regular file). Follows symlinks."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "no such file (or a broken link)" if os.path.islink(path) else "no such file or directory"
    except OSError as exc:
        return f"cannot be examined ({exc.strerror or exc})"
    if stat.S_ISREG(mode):
        return None
    return f"is {kind_of(mode)}, not a regular file: not read"


def require_file_or_folder(path: str | os.PathLike, what: str = "input") -> Path:
    """``path`` when it is a folder or a regular file; InputError naming it otherwise."""
    p = Path(path)
    try:
        mode = os.stat(p).st_mode
    except FileNotFoundError:
        raise InputError("no such file or directory", p) from None
    except OSError as exc:
        raise InputError(f"{what} cannot be examined ({exc.strerror or exc})", p) from None
    if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
        raise InputError(f"{what} is {kind_of(mode)}, not a file or folder: not read", p)
    return p


def walk_files(root: str | os.PathLike, exclude: Iterable[str | os.PathLike] = ()
               ) -> tuple[list[str], list[Unreadable]]:
    """Every regular, non-hidden file under ``root`` (recursive, sorted), and the entries set aside (pipes,
    sockets, devices, broken links, unreadable folders) with the reason. ``exclude``: folders to skip."""
    excluded = {os.path.realpath(p) for p in exclude}
    files: list[str] = []
    skipped: list[Unreadable] = []

    def on_error(exc: OSError) -> None:
        skipped.append(Unreadable(str(exc.filename or root), f"folder cannot be listed ({exc.strerror or exc})"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=on_error):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")
                             and os.path.realpath(os.path.join(dirpath, d)) not in excluded)
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = os.path.join(dirpath, name)
            problem = regular_file_problem(path)
            if problem is None:
                files.append(path)
            else:
                skipped.append(Unreadable(path, problem))
    return files, skipped
