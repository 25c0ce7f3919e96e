"""`ivcplan analyze`: run the whole pipeline on one CT and write the report files."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from ivcplan.cli import app
from ivcplan.cli._errors import print_error

#: The bundled case analysed when no PATH is given.
SAMPLE_CASE = "case_a_renal"


def sample_dir(case: str = SAMPLE_CASE) -> Path:
    """Folder of a bundled sample case (``sample_dicom/<case>`` beside the package)."""
    import ivcplan

    return Path(ivcplan.__file__).resolve().parents[1] / "sample_dicom" / case


@app.command()
def analyze(
    path: Annotated[Path | None, typer.Argument(
        help=f"CT: DICOM folder/file/DICOMDIR, NIfTI, NRRD or MHA. Default: the bundled sample {SAMPLE_CASE}.")] = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="Output folder (created).")] = Path("ivcplan_output"),
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
) -> None:
    """Segment, measure and plan one CT; write report.json, report.csv, segmentation.nii.gz (+ more)."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from ivcplan import pipeline
    from ivcplan.errors import IvcplanError
    from ivcplan.outputs import write_outputs

    console = Console(stderr=True)
    if path is None:
        path = sample_dir() / "dicom"
        if not path.exists():
            print_error(console, f"bundled sample not found at {path}; give a CT PATH")
            raise typer.Exit(2)
        console.print(f"No PATH given: analysing the bundled sample {SAMPLE_CASE} ({path})")
    wanted = "all" if kinds.strip() == "all" else [k.strip() for k in kinds.split(",") if k.strip()]
    clinical = {"prior_chemotherapy": prior_chemotherapy, "liver_fibrosis": liver_fibrosis}
    log_handler = _log_to_file(output)
    try:
        with Progress(TextColumn("{task.description:<40}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                      TimeElapsedColumn(), console=console, transient=True) as bar:
            task = bar.add_task("starting", total=1.0)

            def progress(stage: str, fraction: float) -> None:
                bar.update(task, description=stage[:40], completed=fraction)

            analysis = pipeline.run(path, labels=labels, rules=rules, series=series, clinical=clinical,
                                    weight_kg=weight_kg, anonymize=anonymize, progress=progress)
        skipped: dict[str, str] = {}
        written = write_outputs(analysis, output, wanted, skipped=skipped)
    except IvcplanError as exc:
        print_error(console, exc)
        raise typer.Exit(2) from None
    finally:
        if log_handler is not None:
            logger = logging.getLogger("ivcplan")
            logger.removeHandler(log_handler)
            logger.setLevel(log_handler.previous_level)
            log_handler.close()
    if log_handler is not None:
        written["log"] = Path(log_handler.baseFilename)
    _summary(analysis.report, written, skipped)


#: The library's log of a run (the label importer's lists of ignored structures, stage details).
LOG_NAME = "ivcplan.log"


def _log_to_file(output: Path) -> logging.FileHandler | None:
    """Send the library's log records to OUTPUT/ivcplan.log instead of the console (None if not possible)."""
    if output.exists() and not output.is_dir():
        return None  # write_outputs reports the problem
    output.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(output / LOG_NAME, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("ivcplan")
    handler.previous_level = logger.level  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return handler


def _summary(report: dict, written: dict[str, Path], skipped: dict[str, str]) -> None:
    from rich.console import Console

    out = Console()
    tumor, plan = report["tumor"], report["plan"]
    out.print(f"IVC detected: {report['ivc']['detected']}   segments in view: "
              f"{', '.join(report['segments_in_view']) or '-'}")
    if tumor["present"]:
        out.print(f"Tumor: {tumor['volume_ml']} ml, max diameter {tumor['max_diameter_mm']} mm, "
                  f"segments {', '.join(tumor['segments']) or '?'}")
    else:
        out.print("Tumor: none found")
    out.print(f"Suggested approach: {plan['approach']}  (rules: {', '.join(r['id'] for r in plan['rules']) or '-'})")
    for flag in plan["flags"]:
        out.print(f"  flag: {flag}")
    for warning in report["input"]["warnings"]:
        out.print(f"  warning: {warning}")
    for kind, p in written.items():
        out.print(f"wrote {kind}: {p}")
    for kind, reason in skipped.items():
        out.print(f"skipped {kind}: {reason.splitlines()[0][:150]}")
    out.print(plan["disclaimer"])
