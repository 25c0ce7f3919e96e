"""`ivcplan analyze`: run the whole pipeline on one CT and publish the report files."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from ivcplan.cli import app
from ivcplan.cli._errors import EXIT_CODES_HELP, LOGGERS, STATE, check_interrupted, say

log = logging.getLogger("ivcplan.cli")
#: The run's log: the command and its options, each stage and output kind with its time, every warning.
LOG_NAME = "ivcplan.log"
#: Share of the progress display given to the analysis; the outputs take the rest (sample case b:
#: 42 s of analysis, 37 s of writing all output kinds, on a loaded 2-core machine).
ANALYSIS_SHARE = 0.55
#: Message of `analyze` without a CT.
NO_PATH = "no CT given: ivcplan analyze PATH [-o OUT] (PATH: a DICOM folder or file, NIfTI, NRRD or MHA; " \
          "the bundled demo is `make demo`)"


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
        metavar="PATH", help="CT: DICOM folder/file/DICOMDIR, NIfTI, NRRD or MHA.", show_default=False)] = None,
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
    import time

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from ivcplan import __version__, pipeline
    from ivcplan.errors import IvcplanError, OptionError, OutputError
    from ivcplan.io import parse_spacing
    from ivcplan.outputs import write_outputs
    from ivcplan.outputs.publish import Staging
    from ivcplan.plan import load_rules
    from ivcplan.report.contract import WEIGHT_RANGE_KG

    if path is None:
        raise OptionError(NO_PATH)
    # everything that can be checked without the CT is checked first (in well under a second)
    existing(path, "PATH")
    wanted = output_kinds(kinds)
    ruleset = load_rules(existing(rules, "--rules")) if rules is not None else None
    if labels is not None:
        existing(labels, "--labels")
    low, high = WEIGHT_RANGE_KG  # the report contract's range, checked here before the CT is read
    if weight_kg is not None and not low <= weight_kg <= high:
        raise OptionError(f"--weight-kg: {weight_kg:g} is not a body weight in kg ({low:g}-{high:g})")
    spacing = parse_spacing(assume_spacing)
    clinical = {"prior_chemotherapy": prior_chemotherapy, "liver_fibrosis": liver_fibrosis}
    stage = Staging(output, source=path, series=series, force=force, log_name=LOG_NAME)
    try:
        with stage:
            handler = _log_to_file(stage.path / LOG_NAME)
            STATE.log_path = handler.baseFilename
            started = time.perf_counter()
            log.info("ivcplan %s analyze %s -> %s (outputs: %s; rules: %s; labels: %s; series: %s; clinical: %s, "
                     "weight %s kg; anonymize: %s)", __version__, "<input>" if anonymize else path, output,
                     kinds, rules or "shipped", labels, series, clinical, weight_kg, anonymize)
            try:
                with Progress(TextColumn("{task.description:<32}"), BarColumn(),
                              TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(),
                              console=Console(stderr=True), transient=True, disable=STATE.quiet) as bar:
                    task = bar.add_task("starting", total=1.0)

                    def analysing(stage_name: str, fraction: float) -> None:
                        bar.update(task, description=stage_name[:32], completed=ANALYSIS_SHARE * fraction)

                    def writing(what: str, fraction: float) -> None:
                        bar.update(task, description=what[:32],
                                   completed=ANALYSIS_SHARE + (1.0 - ANALYSIS_SHARE) * fraction)

                    analysis = pipeline.run(path, labels=labels, rules=ruleset, series=series, clinical=clinical,
                                            weight_kg=weight_kg, anonymize=anonymize, progress=analysing,
                                            assume_spacing=spacing)
                    for warning in analysis.report["input"].get("warnings") or []:
                        log.warning("input: %s", warning)
                    for flag in analysis.report["plan"].get("flags") or []:
                        log.warning("plan: %s", flag)
                    skipped: dict[str, str] = {}
                    try:
                        written = write_outputs(analysis, stage.path, wanted, skipped=skipped, progress=writing)
                    except OSError as exc:
                        raise OutputError(f"cannot write the outputs ({exc.strerror or exc})",
                                          exc.filename or output) from None
                log.info("analysis and outputs took %.1f s", time.perf_counter() - started)
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
    _summary(analysis.report, _published(stage, final, written), skipped, stage.replaced)


def _published(stage, final: Path, written: dict[str, Path]) -> dict[str, Path]:
    """The outputs at their published place, the log among them (which the error boundary now names)."""
    STATE.log_path = final / LOG_NAME
    out = {kind: stage.final_path(p) for kind, p in written.items()}
    out["log"] = final / LOG_NAME
    return out


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
    """The result in plain words on stdout (nothing with -q): the plan as the report document says it."""
    from ivcplan.report import summary

    tumor = report["tumor"]
    series = report["input"].get("chosen_reason")
    if series and report["input"].get("other_series"):
        say(f"Series: {series}")
    ivc = "found" if report["ivc"]["detected"] else "not found"
    say(f"IVC: {ivc}; segments in view: {', '.join(report['segments_in_view']) or 'none'}")
    if tumor["present"]:
        say(f"Tumor: {summary.fmt(tumor['volume_ml'], 'ml')}, largest diameter "
            f"{summary.fmt(tumor['max_diameter_mm'], 'mm')}, IVC segments {', '.join(tumor['segments']) or 'unknown'}")
    else:
        say("Tumor: none found")
    say("Suggested plan:")
    for row in summary.plan_rows(report):
        value = "\n      ".join(row.value.splitlines())
        say(f"  {row.label}: {value}")
    fired = ", ".join(r["id"] for r in report["plan"]["rules"]) or "none"
    say(f"  Decision rules that fired: {fired} (the reasons are in the report)")
    for flag in summary.flags(report):
        say(f"  Note: {flag}")
    for warning in summary.warnings(report):
        say(f"  Warning: {warning}")
    if replaced:
        say(f"Replaced the output folder's earlier contents ({replaced})")
    for kind, p in written.items():
        say(f"Wrote {kind}: {p}")
    for kind, reason in skipped.items():
        say(f"Skipped {kind}: {reason.splitlines()[0][:150]}")
    say(summary.disclaimer(report))
