"""Command-line interface (Typer). Heavy imports live inside the commands.

Each command has its own module here; this module assembles them and puts every one inside the
error boundary of `ivcplan.cli._errors` (one-line messages, distinct exit statuses, --debug).
"""

from __future__ import annotations

import importlib
import sys
from typing import Annotated

import typer

from ivcplan.cli._errors import EXIT_CODES_HELP, EXIT_INTERRUPTED, STATE, guarded

app = typer.Typer(
    name="ivcplan",
    help=f"Surgical planning of inferior vena cava tumors from CT.\n\n{EXIT_CODES_HELP}",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

_COMMAND_MODULES = ("info", "phantom", "analyze", "batch", "view", "data")


@app.callback()
def _root(debug: Annotated[bool, typer.Option(
        "--debug", help="On an error, also print the Python traceback.")] = False) -> None:
    """Surgical planning of inferior vena cava tumors from CT."""
    STATE.debug = debug


@app.command()
def version() -> None:
    """Print the ivcplan version."""
    from ivcplan import __version__

    typer.echo(__version__)


for _name in _COMMAND_MODULES:
    importlib.import_module(f"ivcplan.cli.{_name}")
for _command in app.registered_commands:
    _command.callback = guarded(_command.callback)


def main() -> None:
    """The console script: like ``app()``, but Ctrl-C anywhere (even while the options are parsed) ends
    with status 130 instead of click's "Aborted!" and 1."""
    import click

    try:
        code = app(standalone_mode=False)
    except (KeyboardInterrupt, click.exceptions.Abort):
        print("\nstopped: interrupted", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
