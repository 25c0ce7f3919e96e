"""`ivcplan replan`: correct a finished analysis (landmarks, facts, labels) and plan again, into a new folder."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from ivcplan.cli import app
from ivcplan.cli._errors import EXIT_CODES_HELP, STATE, check_interrupted
from ivcplan.cli.analyze import LOG_NAME, _detach, _log_to_file, _published, _summary, existing

log = logging.getLogger("ivcplan.cli")


def _fields_help() -> str:
    from ivcplan.report.contract import CLINICAL_KEYS
    from ivcplan.report.corrections import EDITABLE_FIELDS, EDITABLE_LANDMARKS, describe_field

    lines = [f"{name} = {describe_field(name)}" for name in EDITABLE_FIELDS]
    return ("Landmarks: " + ", ".join(EDITABLE_LANDMARKS) + ".\n\n--set fields:\n\n" + "\n\n".join(lines)
            + "\n\n--clinical keys: " + ", ".join(CLINICAL_KEYS) + ".")


@app.command(epilog=_fields_help() + "\n\n" + EXIT_CODES_HELP)
def replan(
    analysis_dir: Annotated[Path, typer.Argument(help="A finished analysis: the output folder of ivcplan analyze "
                                                      "or replan (only read).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="New output folder (not ANALYSIS_DIR), replaced "
                                         "whole when the replan succeeds (untouched when it fails).")],
    labels: Annotated[Path | None, typer.Option(
        "--labels", help="Corrected segmentation merged over the analysis' one (NIfTI, .seg.nrrd, DICOM SEG, "
                         "TotalSegmentator); the centerline is traced again.")] = None,
    landmark: Annotated[list[str] | None, typer.Option(
        "--landmark", help="NAME=X,Y,Z (LPS mm) to place a landmark, NAME=none to remove it. Repeatable.")] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="FIELD=VALUE to set a report fact, e.g. tumor.hepatic_veins_invaded=right,middle or "
                      "tumor.collateral_return=true (see the list of fields below). Repeatable.")] = None,
    clinical: Annotated[list[str] | None, typer.Option(
        "--clinical", help="KEY=VALUE clinical fact (true, false, a number, null), e.g. prior_chemotherapy=true "
                           "or weight_kg=72. Repeatable.")] = None,
    by: Annotated[str | None, typer.Option("--by", help="Who makes the correction (default: the login name).")] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (recorded with every correction).")] = None,
    ct: Annotated[Path | None, typer.Option(
        "--ct", help="Where the analysis' CT is now, if it moved (same series and grid).")] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Replace an output folder that holds another analysis or other files (whole).")] = False,
) -> None:
    """Correct a finished analysis and plan again; the automatic segmentation is not run again.

    Landmarks nobody placed are found again, the measurements, report and plan follow; every output
    is written to OUTPUT with corrections.json (all corrections, the analysis' own first). Files that
    depend only on the CT and an unchanged segmentation are copied from ANALYSIS_DIR. Every option is
    checked before any work; OUTPUT is published whole at the end, as by ivcplan analyze.
    """
    from rich.console import Console

    from ivcplan.errors import OptionError
    from ivcplan.replan import check_folder

    console = Console(stderr=True)
    # everything that can be checked without the CT is checked first (in well under a second)
    corrections, who = _parse(landmark or [], set_ or [], clinical or [], by, reason)
    source, target = analysis_dir.resolve(), output.resolve()
    if target == source or source in target.parents or target in source.parents:
        raise OptionError(f"the new folder {output} must lie outside the analysis folder {analysis_dir} (and not "
                          "hold it): a correction never changes the analysis it starts from")
    if labels is not None:
        _label_file(existing(labels, "--labels"))
    if ct is not None:
        existing(ct, "--ct")
    check_folder(analysis_dir, corrections, ct=ct)  # an incomplete analysis, moved CT, changed rules fail here
    if not corrections and labels is None:
        console.print("No correction given: the analysis is planned again as it is.")
    _run(analysis_dir, output, corrections, labels, ct, who, reason, force, console)


def _label_file(path: Path) -> None:
    """A --labels file of a kind the importer reads (from its name and header: no work)."""
    from ivcplan.errors import InputError, OptionError
    from ivcplan.io.label_import import label_kind

    try:
        label_kind(path)
    except InputError as exc:
        raise OptionError(f"--labels: {exc}") from None


def _parse(landmarks: list[str], fields: list[str], clinical: list[str], by: str | None,
           reason: str | None) -> tuple[list, str]:
    """The corrections the options ask for, in the order landmarks, fields, clinical facts."""
    import getpass

    from ivcplan.errors import InputError, OptionError
    from ivcplan.report import corrections as corr

    out = []
    try:
        who = by if by is not None else getpass.getuser()
    except (KeyError, OSError):
        raise OptionError("--by: say who makes the correction (no login name to take)") from None
    if not who.strip():
        raise OptionError("--by: say who makes the correction")
    when = corr.utc_now()
    for option, texts in (("--landmark", landmarks), ("--set", fields), ("--clinical", clinical)):
        for text in texts:
            try:
                if option == "--landmark":
                    name, position = corr.parse_landmark_text(text)
                    out.append(corr.landmark_correction(name, position, by=who, why=reason, when=when))
                elif option == "--set":
                    name, value = corr.split_assignment(text, "FIELD=VALUE")
                    out.append(corr.field_correction(name, corr.parse_field_text(name, value), by=who, why=reason,
                                                     when=when))
                else:
                    key, value = corr.split_assignment(text, "KEY=VALUE")
                    out.append(corr.clinical_correction(key, corr.parse_clinical_text(key, value), by=who,
                                                        why=reason, when=when))
            except InputError as exc:
                raise OptionError(f"{option}: {exc}") from None
    return out, who


def _run(analysis_dir: Path, output: Path, corrections: list, labels: Path | None, ct: Path | None, who: str,
         reason: str | None, force: bool, console) -> None:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from ivcplan.errors import IvcplanError
    from ivcplan.outputs.publish import Staging
    from ivcplan.replan import replan_folder, write_replan

    # The output's marker names ANALYSIS_DIR as its input: a replan of the same folder may replace it.
    stage = Staging(output, source=analysis_dir, force=force, log_name=LOG_NAME)
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

                    result = replan_folder(analysis_dir, corrections, labels=labels, ct=ct, by=who, why=reason,
                                           progress=progress)
                skipped: dict[str, str] = {}
                reused: list[str] = []
                written = write_replan(result.analysis, stage.path, reuse_from=analysis_dir, skipped=skipped,
                                       reused=reused)
            except Exception as exc:  # the log kept aside says what failed (with the traceback of a bug)
                log.error("replan of %s failed: %s", analysis_dir, exc, exc_info=not isinstance(exc, IvcplanError))
                raise
            finally:
                _detach(handler)
            check_interrupted()
            final = stage.publish({"series_instance_uid": result.analysis.report["input"].get("series_instance_uid"),
                                   "replan_of": str(analysis_dir.resolve())})
    except BaseException:
        STATE.log_path = stage.kept_log if hasattr(stage, "path") else None
        raise
    written = _published(stage, final, written)
    _changes(result)
    _summary(result.analysis.report, written, skipped, stage.replaced)
    if reused:
        typer.echo(f"reused from {analysis_dir} (same CT and segmentation): {', '.join(reused)}")


#: Report fields listed one by one after a replan (the plan's are always all shown); the rest are counted.
SHOWN_CHANGES = 12


def _changes(result) -> None:
    from rich.console import Console

    out = Console(soft_wrap=True, highlight=False)
    for c in result.added:
        if c.kind == "segmentation":
            voxels = sum(c.new["changed_voxels"].values())
            out.print(f"correction: segmentation from {c.new['source']} ({voxels} voxels changed) by {c.by}"
                      + (f": {c.why}" if c.why else ""))
        else:
            out.print(f"correction: {c.what} = {_show(c.new)} (was {_show(c.old)}) by {c.by}"
                      + (f": {c.why}" if c.why else ""))
    earlier = len(result.analysis.corrections) - len(result.added)
    if earlier:
        out.print(f"{earlier} earlier correction(s) of the analysis replayed")
    if not result.changes:
        out.print("changed: nothing in the report's facts or plan")
    plan = [c for c in result.changes if c.field.startswith("plan.")]
    other = [c for c in result.changes if not c.field.startswith("plan.")]
    for change in plan + other[:SHOWN_CHANGES]:
        out.print(f"changed: {change.field}: {_show(change.before)} -> {_show(change.after)}")
    if len(other) > SHOWN_CHANGES:
        out.print(f"changed: {len(other) - SHOWN_CHANGES} more report field(s) (see report.json)")


def _show(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)

