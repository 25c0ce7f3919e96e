"""`ivcplan info PATH`: the series found, the one ivcplan would analyse and why, its geometry and warnings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ivcplan.cli import app
from ivcplan.cli._errors import EXIT_CODES_HELP, print_error

#: Files that could not be read, listed one per line (the rest are counted).
MAX_LISTED = 10


def _fmt(values, digits: int = 3) -> str:
    return " x ".join(f"{v:.{digits}g}" for v in values) if values is not None else "?"


@app.command(epilog=EXIT_CODES_HELP)
def info(
    path: Annotated[Path, typer.Argument(help="DICOM folder/file/DICOMDIR, or a NIfTI/NRRD/MHA image.")],
    series: Annotated[str | None, typer.Option("--series", "-s", help="Describe this series (number or UID).")] = None,
    assume_spacing: Annotated[str | None, typer.Option(
        "--assume-spacing", metavar="Z,Y,X",
        help="Voxel size in mm of a NIfTI without a spatial header (qform/sform codes 0), refused otherwise.")]
    = None,
) -> None:
    """Show the series found in PATH, the one ivcplan would analyse and why, its geometry and warnings.

    Describes any image (MR too); values that do not look like HU are shown as a warning (analysis refuses them).
    """
    from rich.console import Console
    from rich.table import Table

    import ivcplan.io as io
    from ivcplan.cli.analyze import existing

    console = Console(highlight=False)  # prose is not code: no colouring of numbers and brackets
    if not console.is_terminal:  # piped/logged output: do not squeeze the table into 80 columns
        console = Console(width=160, highlight=False)
    existing(path, "PATH")
    spacing = io.parse_spacing(assume_spacing)
    found, skipped = ([], []) if io.image_kind(path) and path.is_file() else io.scan_all(path)
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
            print_error(console, f"series {chosen.number} ({chosen.uid or 'no SeriesInstanceUID'}): {chosen.reason}",
                        prefix="Chosen")
    notable = [s for s in skipped if s.notable]
    for s in notable[:MAX_LISTED]:
        print_error(console, s, prefix="not read")
    if len(notable) > MAX_LISTED:
        console.print(f"... and {len(notable) - MAX_LISTED} more file(s) not read")
    target = io.select(found, series, path) if found else None
    if target is not None and target.modality != "CT":
        console.print(f"[yellow]Series {target.number} is {target.modality or 'of unknown modality'}, "
                      "not CT: ivcplan analyses CT only.[/yellow]")
    if target is None or target.n_slices > 0:
        volume = io.load(path, series=target.number if target else None, require_ct=False, assume_spacing=spacing)
        grid = volume.grid
        console.print(f"Volume: {grid.shape[0]} x {grid.shape[1]} x {grid.shape[2]} voxels (z, y, x), "
                      f"spacing {_fmt(grid.spacing, 4)} mm, {volume.array.dtype}, "
                      f"HU {float(volume.array.min()):.0f}..{float(volume.array.max()):.0f}")
        console.print(f"Origin (LPS mm): {_fmt(grid.origin, 6)}; slice normal (LPS): "
                      f"{' '.join(f'{v:.3f}' for v in grid.slice_normal + 0.0)}; patient position: "
                      f"{volume.meta.get('patient_position') or '?'}")
        for warning in volume.warnings:
            print_error(console, warning, prefix="warning")
