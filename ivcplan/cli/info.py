"""`ivcplan info PATH`: the series found, the one ivcplan would analyse and why, its geometry and warnings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ivcplan.cli import app
from ivcplan.cli._errors import print_error


def _fmt(values, digits: int = 3) -> str:
    return " x ".join(f"{v:.{digits}g}" for v in values) if values is not None else "?"


@app.command()
def info(
    path: Annotated[Path, typer.Argument(help="DICOM folder/file/DICOMDIR, or a NIfTI/NRRD/MHA image.")],
    series: Annotated[str | None, typer.Option("--series", "-s", help="Describe this series (number or UID).")] = None,
) -> None:
    """Show the series found in PATH, the one ivcplan would analyse and why, its geometry and warnings."""
    from rich.console import Console
    from rich.table import Table

    import ivcplan.io as io
    from ivcplan.errors import IvcplanError

    console = Console()
    if not console.is_terminal:  # piped/logged output: do not squeeze the table into 80 columns
        console = Console(width=160)
    err = Console(stderr=True, width=console.width)
    try:
        found = [] if io.image_kind(path) and path.is_file() else io.scan(path)
        if found:
            table = Table(title=f"DICOM series in {path}")
            for column in ("#", "modality", "description", "files", "slices", "matrix", "spacing mm (z,y,x)",
                           "plane", "thick mm", "contrast", "problems"):
                table.add_column(column)
            for s in found:
                contrast = {True: "yes", False: "no", None: "?"}[s.contrast]
                table.add_row(("* " if s.chosen else "") + str(s.number), s.modality or "?", s.description,
                              str(s.n_files), str(s.n_slices), f"{s.rows}x{s.cols}", _fmt(s.spacing, 4),
                              s.orientation, f"{s.thickness:g}" if s.thickness else "?", contrast,
                              "; ".join(s.problems))
            console.print(table)
            chosen = next((s for s in found if s.chosen), None)
            if chosen is None:
                console.print("[yellow]No usable CT series: ivcplan cannot analyse this input.[/yellow]")
            else:
                console.print(f"Chosen: series {chosen.number} ({chosen.uid or 'no SeriesInstanceUID'}): "
                              f"{chosen.reason}")
        target = io.select(found, series, path) if found else None
        if target is not None and target.modality != "CT":
            console.print(f"[yellow]Series {target.number} is {target.modality or 'of unknown modality'}, "
                          "not CT: ivcplan analyses CT only.[/yellow]")
        if target is None or target.n_slices > 0:
            volume = io.load(path, series=target.number if target else None, require_ct=False)
            grid = volume.grid
            console.print(f"Volume: {grid.shape[0]} x {grid.shape[1]} x {grid.shape[2]} voxels (z, y, x), "
                          f"spacing {_fmt(grid.spacing, 4)} mm, {volume.array.dtype}, "
                          f"HU {float(volume.array.min()):.0f}..{float(volume.array.max()):.0f}")
            console.print(f"Origin (LPS mm): {_fmt(grid.origin, 6)}; slice normal (LPS): "
                          f"{' '.join(f'{v:.3f}' for v in grid.slice_normal + 0.0)}; patient position: "
                          f"{volume.meta.get('patient_position') or '?'}")
            for warning in volume.warnings:
                print_error(console, warning, prefix="warning")
    except IvcplanError as exc:
        print_error(err, exc)
        raise typer.Exit(2) from None
    except OSError as exc:
        print_error(err, f"{path}: {exc.strerror or exc}")
        raise typer.Exit(2) from None
