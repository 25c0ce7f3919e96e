"""The CLI's one error boundary: every command runs inside `guarded`, which turns any exception into one
line naming the file and the problem (plus the log's path when there is one) and a distinct exit status.
A traceback is shown only with ``ivcplan --debug``. Ctrl-C ends the run with status 130, even when the
interrupt arrived inside a C library callback that swallowed it. Library log records and Python warnings
(numpy, nibabel) never reach the console: the commands route them to their log file.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_NO_SERIES = 4
EXIT_OUTPUT = 5
EXIT_INTERRUPTED = 130

EXIT_CODES_HELP = (
    "Exit status: 0 done; 1 internal error (a bug: `ivcplan --debug ...` shows the traceback); 2 bad option or "
    "argument (also an output folder that cannot be used); 3 input that cannot be used (damaged or implausible "
    "files, named in the message); 4 no usable series (no DICOM image, not CT); 5 outputs could not be written; "
    "130 interrupted (Ctrl-C).")


class _State:
    debug = False
    quiet = False  # -q: errors only (no progress, no summary)
    verbose = False  # -v: the library's log records (stages, timings, warnings) on stderr as well
    log_path: Path | None = None  # the current command's log, named in an error message
    interrupted = threading.Event()


STATE = _State()


def print_error(console: Any, message: object, prefix: str = "error") -> None:
    """Print ``prefix: message`` on a rich console, never wrapping it and never reading the message
    as markup (paths and DICOM values may contain brackets)."""
    from rich.text import Text

    style = {"warning": "yellow", "not read": "yellow", "error": "bold red", "failed": "bold red",
             "stopped": "bold red"}.get(prefix, "bold")
    line = Text(f"{prefix}: ", style=style)
    line.append(str(message))
    console.print(line, soft_wrap=True, highlight=False)


def say(text: object = "", *, err: bool = False) -> None:
    """Print one line of plain prose (no markup, no colour), unless -q asked for errors only."""
    if not STATE.quiet:
        print(str(text), file=sys.stderr if err else sys.stdout, flush=True)


def exit_code(exc: BaseException) -> int:
    """The exit status of an exception (see `EXIT_CODES_HELP`)."""
    from ivcplan.errors import InputError, NotCTError, NotDicomError, OptionError, OutputError, RulesError

    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(exc, OptionError | RulesError):
        return EXIT_USAGE
    if isinstance(exc, NotCTError | NotDicomError):
        return EXIT_NO_SERIES
    if isinstance(exc, OutputError):
        return EXIT_OUTPUT
    if isinstance(exc, InputError):
        return EXIT_INPUT
    if isinstance(exc, OSError) and not isinstance(exc, MemoryError):  # a file the commands read (writes are
        return EXIT_INPUT  # wrapped as OutputError where they happen)
    return EXIT_INTERNAL


def describe(exc: BaseException) -> str:
    """One line naming the file and the problem."""
    from ivcplan.errors import IvcplanError

    if isinstance(exc, IvcplanError):
        text = str(exc)
    elif isinstance(exc, MemoryError):
        text = "out of memory: the input is too large for this computer's memory"
    elif isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        text = f"{where}{exc.strerror or exc}"
    else:
        text = f"internal error ({type(exc).__name__}: {exc}); this is a bug, please report it"
        if not STATE.debug:
            text += " (rerun as `ivcplan --debug ...` for the traceback)"
    text = " ".join(text.split())  # one line
    if STATE.log_path is not None and Path(STATE.log_path).is_file():
        text += f" [log: {STATE.log_path}]"
    return text


def interrupted() -> bool:
    """Whether Ctrl-C was pressed during this command (even if a library swallowed the interrupt)."""
    return STATE.interrupted.is_set()


def check_interrupted() -> None:
    """Raise KeyboardInterrupt if Ctrl-C was pressed: called before anything is published."""
    if interrupted():
        raise KeyboardInterrupt


@contextlib.contextmanager
def _sigint_flag() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    STATE.interrupted.clear()

    def on_sigint(signum, frame):
        STATE.interrupted.set()
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def quiet_library() -> Iterator[None]:
    """Keep library log records and Python warnings off the console: a command attaches its log file to
    the `LOGGERS`; without one, they are dropped (never printed by logging's last resort)."""
    logging.captureWarnings(True)
    guards = []
    guard: logging.Handler
    if STATE.verbose:  # -v asked for them: plain lines on stderr, the progress bar's stream
        guard = logging.StreamHandler(sys.stderr)
        guard.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        guard.setLevel(logging.INFO)
    else:
        guard = logging.NullHandler()
    previous = logging.getLogger("ivcplan").level
    if STATE.verbose:
        logging.getLogger("ivcplan").setLevel(logging.INFO)
    for name in LOGGERS:
        logger = logging.getLogger(name)
        logger.addHandler(guard)
        guards.append((logger, guard))
    try:
        yield
    finally:
        for logger, guard in guards:
            logger.removeHandler(guard)
        logging.getLogger("ivcplan").setLevel(previous)
        logging.captureWarnings(False)


#: Where library records come from: the package, Python's warnings (numpy, scipy) and nibabel's log.
LOGGERS = ("ivcplan", "py.warnings", "nibabel")


def cli_exit_code(exc: BaseException) -> int | None:
    """The status of one of typer's or click's own exits and usage errors (they carry ``exit_code``; recent
    typer versions vendor click, so they are recognised by that attribute, not by class), else None."""
    code = getattr(exc, "exit_code", None)
    return code if isinstance(code, int) and not isinstance(code, bool) else None


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command inside the error boundary (see the module docstring)."""
    import typer

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from rich.console import Console

        STATE.log_path = None
        err = Console(stderr=True)
        with quiet_library(), _sigint_flag():
            try:
                result = fn(*args, **kwargs)
                check_interrupted()
                return result
            except KeyboardInterrupt:
                print_error(err, "interrupted: nothing was published" + (f" [log: {STATE.log_path}]" if
                                                                          STATE.log_path else ""),
                            prefix="stopped")
                raise typer.Exit(EXIT_INTERRUPTED) from None
            except BaseException as exc:
                if cli_exit_code(exc) is not None:  # typer.Exit, usage errors: typer/click report them
                    if interrupted():
                        raise typer.Exit(EXIT_INTERRUPTED) from None
                    raise
                if isinstance(exc, SystemExit | GeneratorExit):
                    raise
                if STATE.debug:
                    traceback.print_exc(file=sys.stderr)
                print_error(err, describe(exc))
                raise typer.Exit(exit_code(exc)) from None

    return wrapper
