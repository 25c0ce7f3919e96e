"""Command-line interface (Typer). Heavy imports live inside the commands.

Each command has its own module here; this module only assembles them.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="ivcplan",
    help="Surgical planning of inferior vena cava tumors from CT.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

_COMMAND_MODULES = ("info", "phantom", "analyze", "batch", "view", "data")



@app.callback()
def _root() -> None:
    """Surgical planning of inferior vena cava tumors from CT."""


@app.command()
def version() -> None:
    """Print the ivcplan version."""
    from ivcplan import __version__

    typer.echo(__version__)


for _name in _COMMAND_MODULES:
    importlib.import_module(f"ivcplan.cli.{_name}")


def main() -> None:
    app()
