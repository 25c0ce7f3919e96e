"""Input/output: `load` any supported CT source into a `Volume`, `scan` DICOM folders.

Only this package touches input files; they are never modified. Only regular files are read (a named
pipe or device under an input folder is listed as skipped, never opened).
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from ivcplan.errors import InputError, IntensityError, NotDicomError, SeriesError
from ivcplan.io.files import Unreadable, require_file_or_folder
from ivcplan.io.formats import image_kind, load_image, parse_spacing, save_nifti
from ivcplan.io.series import SeriesInfo
from ivcplan.progress import ProgressCallback, no_progress

if TYPE_CHECKING:
    from ivcplan.io.label_import import ImportedLabels
    from ivcplan.volume import Volume

__all__ = ["SeriesInfo", "Unreadable", "load", "load_labels", "parse_spacing", "save_nifti", "scan", "scan_all"]

log = logging.getLogger(__name__)
#: Unreadable files named in a volume's warning (the rest are counted).
MAX_NAMED_UNREADABLE = 3


def scan(path: str | os.PathLike, *, progress: ProgressCallback | None = None) -> list[SeriesInfo]:
    """Every DICOM series under ``path`` (folder, recursive; single file; DICOMDIR), numbered from 1,
    with the series `load` would pick marked ``chosen`` and the reason given."""
    return scan_all(path, progress=progress)[0]


def scan_all(path: str | os.PathLike, *, progress: ProgressCallback | None = None
             ) -> tuple[list[SeriesInfo], list[Unreadable]]:
    """`scan`, plus the files that were not read and why (not DICOM, damaged, not a regular file...)."""
    from ivcplan.io import files as fs
    from ivcplan.io import series as ser

    progress = progress or no_progress
    path = require_file_or_folder(path)
    skipped: list[Unreadable] = []
    if path.is_dir():
        files, skipped = fs.walk_files(path)
    else:
        header = ser.read_header(path)  # a single file must be DICOM: NotDicomError otherwise
        if not ser.is_dicomdir(header):
            progress("Reading DICOM headers", 1.0)
            return ser.choose(ser.group([header])), []
        files = ser.dicomdir_files(path)
        missing = [f for f in files if fs.regular_file_problem(f)]
        if missing:
            raise InputError(f"DICOMDIR references {len(missing)} missing or unreadable file(s), e.g. {missing[0]} "
                             f"({fs.regular_file_problem(missing[0])})", path)
    headers = []
    for i in range(0, len(files), 64):
        found, not_read = ser.read_headers(files[i:i + 64])
        headers += found
        skipped += not_read
        progress("Reading DICOM headers", min(1.0, (i + 64) / max(1, len(files))))
    if not headers:
        notable = [s for s in skipped if s.notable]
        detail = f"; {len(notable)} could not be read, e.g. {notable[0]}" if notable else ""
        raise NotDicomError(f"no DICOM image files found ({len(files)} file(s) examined{detail})", path)
    return ser.choose(ser.group(headers)), skipped


def select(series: list[SeriesInfo], which: str | int | None, path: str | os.PathLike) -> SeriesInfo:
    """The series named by ``which`` (UID, or number as shown by `ivcplan info`), else the chosen one;
    when none qualifies, the most relevant one so that loading it raises the precise reason."""
    if which is not None:
        key = str(which).strip()
        for s in series:
            if s.uid == key or (key.isdigit() and s.number == int(key)):
                return s
        listing = ", ".join(f"{s.number} ({s.uid})" for s in series)
        raise SeriesError(f"no series {key!r}; available: {listing}", path)
    for s in series:
        if s.chosen:
            return s
    ct = [s for s in series if s.modality == "CT"]
    with_images = [s for s in series if s.n_slices > 0]
    return (ct or with_images or series)[0]


def load(path: str | os.PathLike, *, series: str | int | None = None, require_ct: bool = True,
         assume_spacing: tuple[float, float, float] | None = None,
         progress: ProgressCallback | None = None) -> Volume:
    """Load a CT volume from a DICOM folder (recursive), file or DICOMDIR, or a NIfTI/NRRD/MHA file.

    ``series`` picks a DICOM series by SeriesInstanceUID or by the number `ivcplan info` shows;
    by default the planner's series is chosen (axial CT, most slices, thinnest, contrast-enhanced)
    and ``meta["chosen_reason"]`` says why (``meta["other_series"]``: the others, and why not).
    ``require_ct=True`` refuses non-CT series and values that do not look like HU (`IntensityError`);
    ``require_ct=False`` loads any image and reports implausible HU as a warning.
    ``assume_spacing`` (z, y, x mm): the voxel size of a NIfTI without a spatial header (refused otherwise).
    """
    from ivcplan.io.dicom import load_series
    from ivcplan.io.intensity import hu_problem

    path = require_file_or_folder(path)
    if path.is_file() and image_kind(path):
        volume = load_image(path, assume_spacing=assume_spacing)
    else:
        found, skipped = scan_all(path, progress=progress)
        chosen = select(found, series, path)
        volume = load_series(chosen, require_ct=require_ct, progress=progress)
        others = [{"number": s.number, "series_instance_uid": s.uid or None, "modality": s.modality or None,
                   "description": s.description or None, "reason": s.reason} for s in found if s is not chosen]
        volume.meta["other_series"] = others
        extra = []
        if assume_spacing is not None:
            extra.append("--assume-spacing ignored: it applies to NIfTI files without a spatial header")
        notable = [s for s in skipped if s.notable]
        if notable:
            named = "; ".join(str(s) for s in notable[:MAX_NAMED_UNREADABLE])
            more = f" and {len(notable) - MAX_NAMED_UNREADABLE} more" if len(notable) > MAX_NAMED_UNREADABLE else ""
            extra.append(f"{len(notable)} file(s) under {path} could not be read: {named}{more}")
        if extra:
            for w in extra:
                log.warning("%s", w)
            volume = volume.with_warnings(*extra)
    if volume.meta.get("modality") in ("CT", ""):  # research formats carry no modality: treated as CT
        problem = hu_problem(volume)
        if problem and require_ct:
            raise IntensityError(problem, volume.meta.get("source_path") or path)
        if problem:
            volume = volume.with_warnings(problem)
    return volume


def load_labels(path: str | os.PathLike, reference: Volume, *, kind: str = "auto") -> ImportedLabels:
    """External segmentation onto ``reference``'s grid (implemented in `ivcplan.io.label_import`)."""
    from ivcplan.io.label_import import load_labels as _load_labels

    return _load_labels(path, reference, kind=kind)
