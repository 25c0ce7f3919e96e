"""`ivcplan data list` / `ivcplan data fetch NAME [--dest DIR]`: public sample CT to try ivcplan on."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ivcplan.cli import app
from ivcplan.cli._errors import print_error

data_app = typer.Typer(help="Public sample CT: list them, download one (licence shown, SHA-256 checked, cached).",
                       no_args_is_help=True, rich_markup_mode=None)
app.add_typer(data_app, name="data")


def _size(n: int | None) -> str:
    if n is None:
        return "size not recorded"
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n} bytes"


@data_app.command("list")
def list_samples() -> None:
    """The samples ivcplan can download, with licence, size, URL and SHA-256 (and where that checksum comes from)."""
    from ivcplan.errors import IvcplanError
    from ivcplan.sample_data import cache_dir, registry

    try:
        entries = registry()
        folder = cache_dir()
    except IvcplanError as exc:
        print_error(_stderr(), exc)
        raise typer.Exit(2) from None
    for d in entries.values():
        cached = (folder / d.filename).is_file()
        typer.echo(f"{d.name}: {d.title}")
        typer.echo(f"  licence:  {d.licence}")
        typer.echo(f"  source:   {d.source}")
        typer.echo(f"  url:      {d.url}")
        typer.echo(f"  file:     {d.filename} ({_size(d.size_bytes)}){'  [in cache]' if cached else ''}")
        typer.echo(f"  sha256:   {d.sha256}")
        typer.echo(f"            checksum from {d.checksum_source}")
        for note in d.notes:
            typer.echo(f"  note:     {note}")
    typer.echo(f"cache: {folder} (set IVCPLAN_DATA_DIR to change it)")


def _stderr():
    from rich.console import Console

    return Console(stderr=True, width=400, highlight=False)


@data_app.command("fetch")
def fetch_sample(
    name: Annotated[str, typer.Argument(help="Sample name, as `ivcplan data list` shows it.")],
    dest: Annotated[Path | None, typer.Option("--dest", "-d", help="Folder to put it in (default: the cache).",
                                              file_okay=False)] = None,
) -> None:
    """Download a sample CT (its licence shown first), check its SHA-256, print its path."""
    from ivcplan.errors import IvcplanError
    from ivcplan.sample_data import dataset, fetch

    err = _stderr()
    try:
        entry = dataset(name)
        typer.echo(f"{entry.name}: {entry.title}", err=True)
        typer.echo(f"licence: {entry.licence}", err=True)
        typer.echo(f"source:  {entry.source}", err=True)
        shown = {"done": -1}

        def progress(stage: str, fraction: float) -> None:
            tenth = int(fraction * 10)
            if tenth != shown["done"]:
                shown["done"] = tenth
                typer.echo(f"{stage}: {tenth * 10} %", err=True)

        path = fetch(name, dest, progress=progress)
    except IvcplanError as exc:
        print_error(err, exc)
        raise typer.Exit(2) from None
    except OSError as exc:
        print_error(err, f"{exc.filename or dest}: {exc.strerror or exc}")
        raise typer.Exit(2) from None
    typer.echo(f"SHA-256 checked: {entry.sha256}", err=True)
    typer.echo(str(path))
