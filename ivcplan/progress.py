"""Progress reporting: library stages call a callback; the CLI draws a bar, the viewer a dialog."""

from __future__ import annotations

from collections.abc import Callable

#: ``callback(stage, fraction)``: stage is a short human label, fraction in [0, 1].
ProgressCallback = Callable[[str, float], None]


def no_progress(stage: str, fraction: float) -> None:
    """Default callback: ignore progress."""


class Cancelled(Exception):
    """Raised by a progress callback to stop a running stage (the viewer's Cancel button)."""
