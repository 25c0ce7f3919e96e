"""How the commands show an error: one unwrapped line, so file paths stay whole and copyable."""

from __future__ import annotations

from typing import Any


def print_error(console: Any, message: object, prefix: str = "error") -> None:
    """Print ``prefix: message`` on a rich console, never wrapping it and never reading the message
    as markup (paths and DICOM values may contain brackets)."""
    from rich.text import Text

    line = Text(f"{prefix}: ", style="yellow" if prefix == "warning" else "bold red")
    line.append(str(message))
    console.print(line, soft_wrap=True, highlight=False)
