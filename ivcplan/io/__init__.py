"""Input/output: `load` any supported CT source into a `Volume`, `scan` DICOM folders.

Only this package touches input files; they are never modified.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from ivcplan.errors import InputError, NotDicomError, SeriesError
from ivcplan.io.formats import image_kind, load_image, save_nifti
from ivcplan.io.series import SeriesInfo
from ivcplan.progress import ProgressCallback, no_progress

if TYPE_CHECKING:
    from ivcplan.io.label_import import ImportedLabels
    from ivcplan.volume import Volume

__all__ = ["SeriesInfo", "load", "load_labels", "save_nifti", "scan"]


def scan(path: str | os.PathLike, *, progress: ProgressCallback | None = None) -> list[SeriesInfo]:
    """Every DICOM series under ``path`` (folder, recursive; single file; DICOMDIR), numbered from 1,
    with the series `load` would pick marked ``chosen`` and the reason given."""
    from ivcplan.io import series as ser

    progress = progress or no_progress
    path = Path(path)
    if not path.exists():
        raise InputError("no such file or directory", path)
    if path.is_dir():
        files = ser.list_files(path)
    else:
        header = ser.read_header(path)  # a single file must be DICOM: NotDicomError otherwise
        if not ser.is_dicomdir(header):
            progress("Reading DICOM headers", 1.0)
            return ser.choose(ser.group([header]))
        files = ser.dicomdir_files(path)
        missing = [f for f in files if not os.path.isfile(f)]
        if missing:
            raise InputError(f"DICOMDIR references {len(missing)} missing file(s), e.g. {missing[0]}", path)
    headers, skipped = [], 0
    for i in range(0, len(files), 64):
        found, n_skipped = ser.read_headers(files[i:i + 64])
        headers += found
        skipped += n_skipped
        progress("Reading DICOM headers", min(1.0, (i + 64) / max(1, len(files))))
    if not headers:
        raise NotDicomError(f"no DICOM image files found ({len(files)} file(s) examined)", path)
    return ser.choose(ser.group(headers))


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
         progress: ProgressCallback | None = None) -> Volume:
    """Load a CT volume from a DICOM folder (recursive), file or DICOMDIR, or a NIfTI/NRRD/MHA file.

    ``series`` picks a DICOM series by SeriesInstanceUID or by the number `ivcplan info` shows;
    by default the planner's series is chosen (axial CT, most slices, thinnest, contrast-enhanced)
    and ``meta["chosen_reason"]`` says why. ``require_ct=False`` also loads non-CT images.
    """
    from ivcplan.io.dicom import load_series

    path = Path(path)
    if path.is_file() and image_kind(path):
        return load_image(path)
    found = scan(path, progress=progress)
    return load_series(select(found, series, path), require_ct=require_ct, progress=progress)


def load_labels(path: str | os.PathLike, reference: Volume, *, kind: str = "auto") -> ImportedLabels:
    """External segmentation onto ``reference``'s grid (implemented in `ivcplan.io.label_import`)."""
    from ivcplan.io.label_import import load_labels as _load_labels

    return _load_labels(path, reference, kind=kind)
