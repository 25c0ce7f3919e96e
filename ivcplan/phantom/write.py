"""`write_case`: a phantom case on disk as ``dicom/*.dcm``, ``truth.nii.gz`` and ``truth.json``."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel

from ivcplan.errors import InputError
from ivcplan.io.dicom_write import TRANSFER_SYNTAXES, write_series
from ivcplan.phantom.generate import PhantomCase
from ivcplan.progress import ProgressCallback


def write_case(case: PhantomCase, outdir: str | Path, transfer_syntax: str = "jpeg2000", *,
               overwrite: bool = False, progress: ProgressCallback | None = None) -> dict[str, Path]:
    """Write the case; returns {"dicom": dir, "truth_nifti": path, "truth_json": path}."""
    if transfer_syntax not in TRANSFER_SYNTAXES:
        raise InputError(f"transfer_syntax={transfer_syntax!r}: expected one of {', '.join(TRANSFER_SYNTAXES)}")
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise InputError("output path exists and is not a directory", outdir)
    dicom_dir = outdir / "dicom"
    name = case.config.name
    meta = {"patient_name": f"PHANTOM^{name.upper()}", "patient_id": f"PHANTOM-{name}"}
    write_series(case.volume, dicom_dir, transfer_syntax=transfer_syntax, meta=meta, overwrite=overwrite,
                 progress=progress)
    truth_nifti = outdir / "truth.nii.gz"
    nibabel.save(case.truth.to_nifti(), truth_nifti)
    truth_json = outdir / "truth.json"
    info = {**case.truth_info, "transfer_syntax": transfer_syntax, "files": {
        "dicom": "dicom", "truth_nifti": truth_nifti.name},
        # the label table of truth.nii.gz, so `--labels truth.nii.gz` imports it by name
        "labels": {str(value): name for value, (name, _) in sorted(case.truth.table.items())}}
    truth_json.write_text(json.dumps(info, indent=1, default=_json_default) + "\n")
    return {"dicom": dicom_dir, "truth_nifti": truth_nifti, "truth_json": truth_json}


def _json_default(value: object) -> object:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
