"""Every file an analysis produces, from one ordered table of output kinds.

Each kind is a plain function of the finished `ivcplan.analysis.Analysis` and a folder. What
several kinds need (the label surfaces; the images, which the HTML and the PDF embed) is made
once per `write_outputs` call by `Shared`, only when a kind asks for it. Files that depend on the
CT and the segmentation alone (the labelmap, meshes, DICOM SEG, 3D views, volume rendering and
slices) are copied from ``reuse_from`` when that folder holds an analysis of the same CT with the
same segmentation (a replan that changed landmarks or facts only). The segmentation files (NIfTI, Slicer
.seg.nrrd, DICOM SEG) need nothing that the scenes need: with two threads or more they are written in a
helper thread while the images, documents and meshes are rendered.

May import: `analysis`, `render`, `report`, `io`, `measure`, `labels`, `volume`, `errors`; never
`pipeline`, `cli`, `batch` or `viewer` (the pipeline calls the outputs, not the other way round).
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ivcplan.analysis import Analysis
from ivcplan.errors import InputError, NotApplicableError
from ivcplan.outputs.documents import write_html_report, write_pdf_report
from ivcplan.outputs.segmentation import write_labelmap, write_mesh_files, write_seg, write_slicer_segmentation
from ivcplan.outputs.shared import IMAGES_DIR, Shared
from ivcplan.outputs.state import STATE_FILE, same_segmentation, write_state
from ivcplan.outputs.tables import write_csv, write_json
from ivcplan.parallel import available_threads, run_beside

log = logging.getLogger(__name__)

__all__ = ["ALL", "CORE_KINDS", "IMAGES_DIR", "OUTPUT_KINDS", "OutputKind", "Shared", "kind_names", "write_outputs"]


@dataclass(frozen=True)
class OutputKind:
    """One kind of output: its name (as in ``--outputs``), what it is, and how it is written."""

    name: str
    description: str
    write: Callable[[Analysis, Path, Shared], Path]
    core: bool = False  # written by every run: its failure fails the run
    #: Share of the writing time (seconds measured on sample case b, 111 x 240 x 240, all kinds: 37 s in all),
    #: so that a progress display moves at an even pace through the slow kinds (images, PDF, meshes).
    cost: float = 0.5
    #: Its files when they depend on the CT and the segmentation only (reused from an analysis with both
    #: the same); the first is the path the kind returns.
    reusable: tuple[str, ...] = ()
    #: Written from the analysis alone (no `Shared` scene or image), beside the kinds that render.
    beside: bool = False


#: The output kinds, in the order they are written.
OUTPUT_KINDS: tuple[OutputKind, ...] = (
    OutputKind("json", "report.json (the report contract)", lambda a, d, s: write_json(a, d), core=True, cost=0.1),
    OutputKind("csv", "report.csv (the report as one row)", lambda a, d, s: write_csv(a, d), core=True, cost=0.1),
    OutputKind("segmentation", "segmentation.nii.gz (labels on the CT grid) + label tables for Slicer (.ctbl) "
               "and ITK-SNAP (_labels.txt)", lambda a, d, s: write_labelmap(a, d), core=True, cost=0.3,
               reusable=("segmentation.nii.gz", "segmentation.ctbl", "segmentation_labels.txt"), beside=True),
    OutputKind("seg_nrrd", "segmentation.seg.nrrd (3D Slicer segmentation: named, coloured segments)",
               lambda a, d, s: write_slicer_segmentation(a, d), cost=1.7, reusable=("segmentation.seg.nrrd",),
               beside=True),
    OutputKind("state", f"{STATE_FILE}, centerline.npz, corrections.json (what ivcplan replan starts from)",
               lambda a, d, s: write_state(a, d), core=True, cost=0.2),
    OutputKind("images", "images/*.png (3D views, slices, CPR, profile)", lambda a, d, s: _write_images(s), cost=12.7),
    OutputKind("html", "report.html (self-contained)", lambda a, d, s: write_html_report(a, d, s.images), cost=0.2),
    OutputKind("pdf", "report.pdf", lambda a, d, s: write_pdf_report(a, d, s.images), cost=13.3),
    OutputKind("meshes", "meshes/ (STL, OBJ, GLB in LPS mm)", lambda a, d, s: write_mesh_files(a, d, s.surfaces),
               cost=3.0, reusable=("meshes",)),
    OutputKind("dicom_seg", "segmentation.seg.dcm (DICOM SEG of a DICOM input)", lambda a, d, s: write_seg(a, d),
               cost=5.5, reusable=("segmentation.seg.dcm",), beside=True),
)
ALL = "all"
#: Output kinds every run writes; with ``kinds="all"`` a failure of any other kind is logged and skipped.
CORE_KINDS: tuple[str, ...] = tuple(k.name for k in OUTPUT_KINDS if k.core)
_BY_NAME = {k.name: k for k in OUTPUT_KINDS}


def kind_names() -> tuple[str, ...]:
    """Every output kind's name, in writing order."""
    return tuple(_BY_NAME)


def write_outputs(analysis: Analysis, outdir: str | os.PathLike, kinds: Iterable[str] | str = ALL, *,
                  skipped: dict[str, str] | None = None,
                  progress: Callable[[str, float], None] | None = None, reuse_from: str | os.PathLike | None = None,
                  reused: list[str] | None = None) -> dict[str, Path]:
    """Write the requested output kinds into ``outdir`` (created); returns kind -> path.

    A kind that does not apply to this analysis (a DICOM SEG of a NIfTI CT, meshes of an empty
    segmentation: the writer raises `NotApplicableError`) is left out, asked for or not. Other kinds
    asked for by name must succeed; with ``kinds="all"`` an optional kind that fails is left out too.
    Every kind left out is logged, with its reason put in ``skipped`` when a dict is given.
    ``progress(description, fraction)`` is called before each kind and once at the end (fraction 1.0),
    the fraction weighted by the kinds' measured `OutputKind.cost`; each kind's time is logged.
    ``reuse_from``: an analysis folder whose files that depend only on the CT and the segmentation
    are copied instead of made again, when its CT and segmentation are this analysis' (checked
    through its analysis_state.json); the files copied are listed in ``reused`` when a list is given.
    """
    everything = kinds == ALL
    wanted = list(_BY_NAME) if everything else [kinds] if isinstance(kinds, str) else list(kinds)
    unknown = [k for k in wanted if k not in _BY_NAME]
    if unknown:
        raise InputError(f"unknown output kind(s) {unknown}; available: {', '.join(_BY_NAME)}", "kinds")
    out = Path(outdir)
    if out.exists() and not out.is_dir():
        raise InputError("output path exists and is not a directory", out)
    out.mkdir(parents=True, exist_ok=True)
    source = Path(reuse_from) if reuse_from is not None else None
    if source is not None and source.resolve() == out.resolve():
        raise InputError("cannot reuse the outputs of the folder being written", out)
    if source is not None and not same_segmentation(source, analysis):
        log.info("outputs of %s not reused: another CT or segmentation", source)
        source = None
    copied = reused if reused is not None else []
    shared = Shared(analysis, out, reuse_from=source, reused=copied)
    kinds_wanted = [_BY_NAME[name] for name in wanted]
    total = sum(k.cost for k in kinds_wanted) or 1.0
    results: dict[str, Path | None] = {}

    def write(kind: OutputKind) -> None:
        results[kind.name] = _write_one(kind, analysis, out, shared, source, copied, skipped, everything)

    beside = [k for k in kinds_wanted if k.beside]
    if available_threads() < 2 or len(beside) == len(kinds_wanted):
        beside = []
    done = 0.0
    with ThreadPoolExecutor(max_workers=1) as pool:
        helper = run_beside(pool, lambda: [write(k) for k in beside]) if beside else None
        for kind in kinds_wanted:
            if kind in beside:
                continue
            if progress is not None:
                progress(f"writing {kind.name}", done / total)
            done += kind.cost
            write(kind)
        if helper is not None:
            if progress is not None:
                progress(f"writing {', '.join(k.name for k in beside)}", done / total)
            helper.result()  # a core kind's failure is raised here
    written = {k.name: path for k in kinds_wanted if (path := results.get(k.name)) is not None}
    if progress is not None:
        progress("outputs written", 1.0)
    return written


def _write_one(kind: OutputKind, analysis: Analysis, out: Path, shared: Shared, source: Path | None,
               copied: list[str], skipped: dict[str, str] | None, everything: bool) -> Path | None:
    """Write (or copy from ``source``) one kind; None when it is left out (not applicable, or an optional
    kind that failed in an ``"all"`` run; logged and put in ``skipped``)."""
    t0 = time.perf_counter()
    try:
        if source is not None and kind.reusable and all((source / p).exists() for p in kind.reusable):
            return _copy(source, out, kind.reusable, copied)
        path = kind.write(analysis, out, shared)
        log.info("output %s written in %.1f s", kind.name, time.perf_counter() - t0)
        return Path(path)
    except NotApplicableError as exc:
        _left_out(kind.name, exc, skipped)
    except Exception as exc:
        if not everything or kind.core:
            raise
        _left_out(kind.name, exc, skipped)
    return None


def _write_images(shared: Shared) -> Path:
    shared.images  # noqa: B018  (rendered on first access)
    return shared.outdir / IMAGES_DIR


def _copy(source: Path, out: Path, names: tuple[str, ...], copied: list[str]) -> Path:
    for name in names:
        src, dst = source / name, out / name
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            shutil.copy2(src, dst)
        copied.append(name)
    return out / names[0]


def _left_out(kind: str, exc: Exception, skipped: dict[str, str] | None) -> None:
    log.warning("output %s not written: %s", kind, exc)
    if skipped is not None:
        skipped[kind] = str(exc)
