"""`ivcplan view` command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ivcplan.cli import app


@app.command()
def view(
    path: Annotated[Path | None, typer.Argument(help="DICOM folder or file (or NIfTI/NRRD/MHA) to open.")] = None,
) -> None:
    """Open the desktop viewer (optionally with a study)."""
    if path is not None and not path.exists():
        typer.echo(f"error: {path}: no such file or folder", err=True)
        raise typer.Exit(2)
    try:
        from ivcplan.viewer import run
    except ImportError as exc:  # PySide6 is the `viewer` extra
        typer.echo(f"error: the viewer needs PySide6 (pip install 'ivcplan[viewer]'): {exc}", err=True)
        raise typer.Exit(2) from exc
    raise typer.Exit(run(path))
