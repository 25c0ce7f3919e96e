"""`ivcplan analyze`: run the whole pipeline on one CT and publish the report files."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from ivcplan.cli import app
from ivcplan.cli._errors import EXIT_CODES_HELP, LOGGERS, STATE, check_interrupted, print_error

log = logging.getLogger("ivcplan.cli")
#: The bundled case analysed when no PATH is given.
SAMPLE_CASE = "case_a_renal"
#: The library's log of a run (the label importer's lists of ignored structures, stage details).
LOG_NAME = "ivcplan.log"


def sample_dir(case: str = SAMPLE_CASE) -> Path:
    """Folder of a bundled sample case (``sample_dicom/<case>`` beside the package)."""
    import ivcplan

    return Path(ivcplan.__file__).resolve().parents[1] / "sample_dicom" / case


def existing(path: Path, option: str) -> Path:
    """``path`` when it is a folder or a regular file; OptionError naming ``option`` otherwise."""
    from ivcplan.errors import InputError, OptionError
    from ivcplan.io.files import require_file_or_folder

    try:
        return require_file_or_folder(path, option)
    except InputError as exc:
        raise OptionError(f"{option}: {exc!s}") from None


def output_kinds(text: str, option: str = "--outputs") -> list[str] | str:
    """``"json,csv"`` -> ["json", "csv"] after checking every kind exists; ``"all"`` stays."""
    from ivcplan.errors import OptionError
    from ivcplan.outputs import ALL, kind_names

    if text.strip() == ALL:
        return ALL
    wanted = list(dict.fromkeys(k.strip() for k in text.split(",") if k.strip()))
    if not wanted:
        raise OptionError("no output kind given", option)
    known = kind_names()
    unknown = [k for k in wanted if k not in known]
    if unknown:
        raise OptionError(f"unknown output kind(s) {', '.join(unknown)}; available: {', '.join(known)}, all", option)
    return wanted


@app.command(epilog=EXIT_CODES_HELP)
def analyze(
    path: Annotated[Path | None, typer.Argument(
        help=f"CT: DICOM folder/file/DICOMDIR, NIfTI, NRRD or MHA. Default: the bundled sample {SAMPLE_CASE}.")] = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="Output folder, replaced whole when the run "
                                         "succeeds (untouched when it fails).")] = Path("ivcplan_output"),
    labels: Annotated[Path | None, typer.Option(
        "--labels", help="External segmentation to import (TotalSegmentator, .seg.nrrd, NIfTI).")] = None,
    rules: Annotated[Path | None, typer.Option("--rules", help="Decision rules file (default: shipped).")] = None,
    series: Annotated[str | None, typer.Option("--series", help="DICOM series: UID or number.")] = None,
    kinds: Annotated[str, typer.Option("--outputs", help="Comma-separated output kinds, or 'all'.")] = "all",
    prior_chemotherapy: Annotated[bool | None, typer.Option(
        "--prior-chemotherapy/--no-prior-chemotherapy",
        help="Neoadjuvant chemotherapy given (raises the remnant limit, rule R8). Default: unknown.")] = None,
    liver_fibrosis: Annotated[bool | None, typer.Option(
        "--liver-fibrosis/--no-liver-fibrosis",
        help="Liver fibrosis known (raises the remnant limit, rule R8). Default: unknown.")] = None,
    weight_kg: Annotated[float | None, typer.Option(
        "--weight-kg", help="Body weight in kg (rule R8: remnant liver volume to body weight >= 0.5 %).")] = None,
    anonymize: Annotated[bool, typer.Option(
        "--anonymize", help="Leave the patient ID, study date, accession number and input path out of the report.")]
    = False,
    force: Annotated[bool, typer.Option(
        "--force", help="Replace an output folder that holds another analysis or other files (whole).")] = False,
    assume_spacing: Annotated[str | None, typer.Option(
        "--assume-spacing", metavar="Z,Y,X",
        help="Voxel size in mm of a NIfTI without a spatial header (qform/sform codes 0), refused otherwise.")]
    = None,
) -> None:
    """Segment, measure and plan one CT; write report.json, report.csv, segmentation.nii.gz (+ more).

    The outputs are written into a hidden folder beside OUT and moved into place at the end: a failed or
    interrupted run leaves OUT as it was. OUT may hold an earlier analysis of the same input (it is replaced);
    anything else needs --force. Options and OUT are checked before the CT is loaded.
    """
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from ivcplan import pipeline
    from ivcplan.errors import IvcplanError, OutputError
    from ivcplan.io import parse_spacing
    from ivcplan.outputs import write_outputs
    from ivcplan.outputs.publish import Staging
    from ivcplan.plan import load_rules

    console = Console(stderr=True)
    if path is None:
        path = sample_dir() / "dicom"
        if not path.exists():
            print_error(console, f"bundled sample not found at {path}; give a CT PATH")
            raise typer.Exit(2)
        console.print(f"No PATH given: analysing the bundled sample {SAMPLE_CASE} ({path})")
    # everything that can be checked without the CT is checked first (in well under a second)
    existing(path, "PATH")
    wanted = output_kinds(kinds)
    ruleset = load_rules(existing(rules, "--rules")) if rules is not None else None
    if labels is not None:
        existing(labels, "--labels")
    spacing = parse_spacing(assume_spacing)
    clinical = {"prior_chemotherapy": prior_chemotherapy, "liver_fibrosis": liver_fibrosis}
    stage = Staging(output, source=path, series=series, force=force, log_name=LOG_NAME)
    try:
        with stage:
            handler = _log_to_file(stage.path / LOG_NAME)
            STATE.log_path = handler.baseFilename
            try:
                with Progress(TextColumn("{task.description:<40}"), BarColumn(),
                              TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(), console=console,
                              transient=True) as bar:
                    task = bar.add_task("starting", total=1.0)

                    def progress(stage_name: str, fraction: float) -> None:
                        bar.update(task, description=stage_name[:40], completed=fraction)

                    analysis = pipeline.run(path, labels=labels, rules=ruleset, series=series, clinical=clinical,
                                            weight_kg=weight_kg, anonymize=anonymize, progress=progress,
                                            assume_spacing=spacing)
                skipped: dict[str, str] = {}
                try:
                    written = write_outputs(analysis, stage.path, wanted, skipped=skipped)
                except OSError as exc:
                    raise OutputError(f"cannot write the outputs ({exc.strerror or exc})",
                                      exc.filename or output) from None
            except Exception as exc:  # the log kept aside says what failed (with the traceback of a bug)
                log.error("analysis of %s failed: %s", path, exc, exc_info=not isinstance(exc, IvcplanError))
                raise
            finally:
                _detach(handler)
            check_interrupted()  # a Ctrl-C swallowed by a library callback still stops the run here
            final = stage.publish({"series_instance_uid": analysis.report["input"].get("series_instance_uid")})
    except BaseException:
        STATE.log_path = stage.kept_log if hasattr(stage, "path") else None
        raise
    STATE.log_path = final / LOG_NAME
    written = {kind: stage.final_path(p) for kind, p in written.items()}
    written["log"] = final / LOG_NAME
    _summary(analysis.report, written, skipped, stage.replaced)


def _log_to_file(path: Path) -> logging.FileHandler:
    """Send the library's log records and Python warnings to ``path`` (never to the console)."""
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("ivcplan")
    handler.previous_level = logger.level  # type: ignore[attr-defined]
    for name in LOGGERS:
        logging.getLogger(name).addHandler(handler)
    logger.setLevel(logging.INFO)
    return handler


def _detach(handler: logging.FileHandler) -> None:
    for name in LOGGERS:
        logging.getLogger(name).removeHandler(handler)
    logging.getLogger("ivcplan").setLevel(handler.previous_level)  # type: ignore[attr-defined]
    handler.close()


def _summary(report: dict, written: dict[str, Path], skipped: dict[str, str], replaced: str) -> None:
    from rich.console import Console

    out = Console()
    tumor, plan = report["tumor"], report["plan"]
    series = report["input"].get("chosen_reason")
    if series and report["input"].get("other_series"):
        out.print(f"Series: {series}", soft_wrap=True, highlight=False, markup=False)
    out.print(f"IVC detected: {report['ivc']['detected']}   segments in view: "
              f"{', '.join(report['segments_in_view']) or '-'}")
    if tumor["present"]:
        out.print(f"Tumor: {tumor['volume_ml']} ml, max diameter {tumor['max_diameter_mm']} mm, "
                  f"segments {', '.join(tumor['segments']) or '?'}")
    else:
        out.print("Tumor: none found")
    out.print(f"Suggested approach: {plan['approach']}  (rules: {', '.join(r['id'] for r in plan['rules']) or '-'})")
    for flag in plan["flags"]:
        out.print(f"  flag: {flag}", markup=False)
    for warning in report["input"]["warnings"]:
        out.print(f"  warning: {warning}", soft_wrap=True, highlight=False, markup=False)
    if replaced:
        out.print(f"replaced the output folder's earlier contents ({replaced})", markup=False)
    for kind, p in written.items():
        out.print(f"wrote {kind}: {p}", soft_wrap=True, highlight=False, markup=False)
    for kind, reason in skipped.items():
        out.print(f"skipped {kind}: {reason.splitlines()[0][:150]}", markup=False)
    out.print(plan["disclaimer"])
