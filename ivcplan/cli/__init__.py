"""Command-line interface (Typer). Heavy imports live inside the commands.

Each command has its own module here; this module assembles them and puts every one inside the
error boundary of `ivcplan.cli._errors` (one-line messages, distinct exit statuses, --debug).
"""

from __future__ import annotations

import importlib
import sys
from typing import Annotated

import typer

from ivcplan.cli._errors import EXIT_CODES_HELP, EXIT_INTERRUPTED, STATE, cli_exit_code, guarded
from ivcplan.memory import keep_freed_memory

#: -h as well as --help everywhere; help text wrapped to the terminal up to 100 columns.
CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

app = typer.Typer(
    name="ivcplan",
    help=f"Surgical planning of inferior vena cava tumors from CT.\n\n{EXIT_CODES_HELP}",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    # Plain click help: rich's boxed tables cut option names at 80 columns ("--prior-chemothera…") and
    # show flags as "<bool>".
    rich_markup_mode=None,
    context_settings=CONTEXT_SETTINGS,
)

_COMMAND_MODULES = ("info", "phantom", "analyze", "replan", "batch", "view", "data")


def _print_version(value: bool) -> None:
    if value:
        from ivcplan import __version__

        typer.echo(f"ivcplan {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[bool, typer.Option(
        "--version", is_eager=True, callback=_print_version, help="Print the ivcplan version and exit.")] = False,
    quiet: Annotated[bool, typer.Option(
        "-q", "--quiet", help="Print errors only: no progress display, no summary.")] = False,
    verbose: Annotated[bool, typer.Option(
        "-v", "--verbose", help="Also print the log (stages, timings, warnings) on stderr as it is written.")]
    = False,
    debug: Annotated[bool, typer.Option("--debug", help="On an error, also print the Python traceback.")] = False,
) -> None:
    """Surgical planning of inferior vena cava tumors from CT."""
    if quiet and verbose:
        raise typer.BadParameter("-q/--quiet and -v/--verbose exclude each other", param_hint="-q / -v")
    STATE.debug, STATE.quiet, STATE.verbose = debug, quiet, verbose


@app.command()
def version() -> None:
    """Print the ivcplan version."""
    from ivcplan import __version__

    typer.echo(__version__)


for _name in _COMMAND_MODULES:
    importlib.import_module(f"ivcplan.cli.{_name}")


def _guard_all(typer_app: typer.Typer) -> None:
    """Every command, sub-commands of groups (``ivcplan data ...``) included, inside the error boundary."""
    for command in typer_app.registered_commands:
        command.callback = guarded(command.callback)
    for group in typer_app.registered_groups:
        _guard_all(group.typer_instance)


_guard_all(app)


def main() -> None:
    """The console script: like ``app()``, but Ctrl-C anywhere (even while the options are parsed) ends
    with status 130 instead of click's "Aborted!" and 1. The process's allocator keeps freed memory
    for the next large array (`ivcplan.memory`): a third less CPU time for an analysis of a large CT."""
    keep_freed_memory()
    try:
        code = app(standalone_mode=False)
    except KeyboardInterrupt:
        code = None
        _stop()
    except Exception as exc:
        if type(exc).__name__ == "Abort":  # click's answer to Ctrl-C (or end of input) at a prompt
            _stop()
        status = cli_exit_code(exc)
        if status is None:
            raise
        exc.show()  # a usage error: typer/click print it with the usage line
        sys.exit(status)
    sys.exit(code if isinstance(code, int) else 0)


def _stop() -> None:
    print("\nstopped: interrupted", file=sys.stderr)
    sys.exit(EXIT_INTERRUPTED)
