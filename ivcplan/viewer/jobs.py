"""Background jobs: run a library call on Qt's thread pool, report progress, allow Cancel.

The library call receives a progress callback; Cancel makes the next call of that callback raise
`ivcplan.progress.Cancelled`, which unwinds the stage. Results and errors come back as Qt signals
(queued into the GUI thread), so the window never waits on the work.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from ivcplan.errors import IvcplanError
from ivcplan.progress import Cancelled, ProgressCallback

log = logging.getLogger(__name__)


class JobSignals(QObject):
    progress = Signal(str, float)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()


class Job(QRunnable):
    """``work(progress) -> result`` run on a pool thread; ``signals`` report back."""

    def __init__(self, name: str, work: Callable[[ProgressCallback], Any]) -> None:
        super().__init__()
        self.setAutoDelete(False)  # the Python side keeps it alive until its signals are delivered
        self.name = name
        self.work = work
        self.signals = JobSignals()
        self._cancel = threading.Event()
        self.done = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def _progress(self, stage: str, fraction: float) -> None:
        if self._cancel.is_set():
            raise Cancelled(f"{self.name} cancelled")
        self.signals.progress.emit(str(stage), float(fraction))

    def run(self) -> None:
        try:
            self._progress(self.name, 0.0)
            result = self.work(self._progress)
            if self._cancel.is_set():
                raise Cancelled(f"{self.name} cancelled")
        except Cancelled:
            log.info("%s cancelled", self.name)
            self.signals.cancelled.emit()
        except IvcplanError as exc:
            log.info("%s failed: %s", self.name, exc)
            self.signals.failed.emit(str(exc))
        except Exception as exc:  # anything else still ends as a dialog, never a traceback
            log.exception("%s failed unexpectedly", self.name)
            self.signals.failed.emit(f"{type(exc).__name__}: {exc}")
        else:
            self.signals.finished.emit(result)
        finally:
            self.done.set()


def start(job: Job, pool: QThreadPool | None = None) -> Job:
    (pool or QThreadPool.globalInstance()).start(job)
    return job
