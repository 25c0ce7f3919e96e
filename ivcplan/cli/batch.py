"""`ivcplan batch INPUT_ROOT -o OUTDIR`: every CT series under a folder, in parallel, resumable."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ivcplan.cli import app
from ivcplan.cli._errors import EXIT_INTERRUPTED, print_error

BATCH_EXIT_HELP = ("Exit status: 0 every case analysed; 1 internal error (`ivcplan --debug batch ...` shows the "
                   "traceback); 2 bad option or argument, or an output folder that cannot be used; 3 some cases failed "
                   "(see summary.csv); 4 no case succeeded (or none found); 5 the output folder could not be written; "
                   "130 interrupted (finished cases are kept: run the same command again to resume).")


@app.command(epilog=BATCH_EXIT_HELP)
def batch(
    input_root: Annotated[Path, typer.Argument(help="Folder with DICOM series and/or NIfTI/NRRD/MHA files.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output folder (one sub-folder per case).")],
    jobs: Annotated[int | None, typer.Option("--jobs", "-j", min=1, help="Worker processes (default: all cores).")]
    = None,
    force: Annotated[bool, typer.Option("--force", help="Redo cases that are already finished.")] = False,
    scheduler: Annotated[str | None, typer.Option(
        "--scheduler", help="Run on an existing Dask cluster: its scheduler address (tcp://host:8786).")] = None,
    outputs: Annotated[str, typer.Option(
        "--outputs", help="Comma-separated output kinds (json,csv,segmentation,html,pdf,...) or 'all'.")] = "all",
    memory_limit: Annotated[str | None, typer.Option(
        "--memory-limit", help="Address-space limit per local worker, e.g. 4GB; a case above it is recorded "
        "as out of memory.")] = None,
    rules: Annotated[Path | None, typer.Option("--rules", help="Decision rules file (default: built-in).")] = None,
    clinical: Annotated[Path | None, typer.Option(
        "--clinical", help="CSV of clinical facts per case: case,weight_kg,prior_chemotherapy,liver_fibrosis "
        "(rule R8).")] = None,
    weight_kg: Annotated[float | None, typer.Option(
        "--weight-kg", help="Body weight in kg for every case without its own (a batch of one patient's series).")]
    = None,
    anonymize: Annotated[bool, typer.Option(
        "--anonymize", help="Leave patient ID, study date, accession number and input paths out of the reports.")]
    = False,
    assume_spacing: Annotated[str | None, typer.Option(
        "--assume-spacing", metavar="Z,Y,X",
        help="Voxel size in mm of NIfTI files without a spatial header (qform/sform codes 0), refused otherwise.")]
    = None,
) -> None:
    """Analyse every CT series under INPUT_ROOT; write one folder per case, summary.csv/json and batch.log.

    Rerunning skips finished cases (unless --force) and redoes any case a crash left half-written; a case
    that fails loses its earlier outputs. Files that could not be read are listed in summary.json ("ignored").
    """
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from ivcplan.batch import BatchEvent, run_batch
    from ivcplan.cli.analyze import existing, output_kinds
    from ivcplan.errors import IvcplanError, OutputError
    from ivcplan.io import parse_spacing

    console = Console(stderr=True, highlight=False)  # plain prose: no colouring of numbers and brackets
    existing(input_root, "INPUT_ROOT")
    kinds = output_kinds(outputs)
    spacing = parse_spacing(assume_spacing)
    progress = Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(),
                        TextColumn("{task.fields[counts]}"), TimeElapsedColumn(), TextColumn("ETA"),
                        TimeRemainingColumn(), console=console, transient=False)
    task = progress.add_task("cases", total=1.0, counts="")
    started = []

    def on_event(event: BatchEvent) -> None:
        if not started:  # the bar appears once the arguments passed and discovery ran
            progress.start()
            started.append(True)
        counts = f"{event.done}/{event.total} done, {event.failed} failed"
        progress.update(task, completed=event.fraction, description="cases", counts=counts)
        if event.kind in ("finished",) and event.result and event.result["status"] != "ok":
            r = event.result
            message = f"{r['case']} ({r['source']}): {r['error_type']}: {r['error']}"
            print_error(progress.console, message, prefix="failed")
        elif event.kind == "retry":
            progress.console.print(f"[yellow]a worker died: retrying {event.case} alone[/yellow]")

    facts = None
    if clinical is not None:
        from ivcplan.batch.runner import load_clinical
        from ivcplan.errors import InputError, OptionError

        try:
            facts = load_clinical(existing(clinical, "--clinical"))
        except OptionError:
            raise
        except InputError as exc:  # a bad facts file is a bad option (status 2), not a bad CT
            raise OptionError(f"--clinical: {exc}") from None
    try:
        result = run_batch(input_root, output, jobs=jobs, force=force, outputs=kinds, rules=rules,
                           memory_limit=memory_limit, scheduler=scheduler, clinical=facts, weight_kg=weight_kg,
                           anonymize=anonymize, on_event=on_event, assume_spacing=spacing)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted: finished cases are kept; run the same command again to resume[/yellow]")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except OSError as exc:  # the summary, the log or a case folder could not be written
        if isinstance(exc, IvcplanError):
            raise
        raise OutputError(f"cannot write the batch outputs ({exc.strerror or exc})", exc.filename or output) from None
    finally:
        progress.stop()
    for note in result.notes:
        print_error(console, note, prefix="note")
    unreadable = result.discovery.unreadable
    if unreadable:
        print_error(console, f"{len(unreadable)} file(s) could not be read, e.g. {unreadable[0].relpath} "
                             f"({unreadable[0].reason}); all are listed in {result.summary_json.name}", prefix="note")
    console.print(f"{len(result.results)} case(s): {result.n_ok} ok, {result.n_failed} failed, "
                  f"{result.n_resumed} already finished; {result.elapsed_s:.1f} s", markup=False)
    console.print(f"summary: {result.summary_csv} and {result.summary_json.name}; log: {result.log_path}",
                  markup=False, soft_wrap=True)
    raise typer.Exit(result.exit_code)
