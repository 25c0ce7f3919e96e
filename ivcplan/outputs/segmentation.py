"""The segmentation as files: a NIfTI labelmap on the CT grid with its label tables (Slicer, ITK-SNAP),
a 3D Slicer .seg.nrrd, meshes (STL, OBJ, GLB) and a DICOM SEG."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ivcplan.analysis import Analysis
from ivcplan.errors import NotApplicableError
from ivcplan.io import image_kind, save_nifti
from ivcplan.outputs.export import write_dicom_seg, write_meshes
from ivcplan.outputs.label_files import write_label_sidecars, write_seg_nrrd
from ivcplan.render.mesh import Surface


def write_labelmap(analysis: Analysis, outdir: Path) -> Path:
    """segmentation.nii.gz, with segmentation.ctbl (3D Slicer) and segmentation_labels.txt (ITK-SNAP) beside it."""
    lm = analysis.labelmap
    path = save_nifti(lm.with_array(lm.array.astype(np.uint8, copy=False)), Path(outdir) / "segmentation.nii.gz")
    write_label_sidecars(lm, path)
    return path


def write_slicer_segmentation(analysis: Analysis, outdir: Path) -> Path:
    """segmentation.seg.nrrd (named, coloured segments); NotApplicableError when nothing was segmented."""
    if not analysis.labelmap.present():
        raise NotApplicableError("empty segmentation: no .seg.nrrd written")
    return write_seg_nrrd(analysis.labelmap, Path(outdir) / "segmentation.seg.nrrd")


def write_mesh_files(analysis: Analysis, outdir: Path, surfaces: list[Surface]) -> Path:
    """The ``meshes`` folder; NotApplicableError when nothing was segmented."""
    if not analysis.labelmap.present():
        raise NotApplicableError("empty segmentation: no mesh written")
    folder = Path(outdir) / "meshes"
    write_meshes(analysis.labelmap, folder, surfaces=surfaces)
    return folder


def write_seg(analysis: Analysis, outdir: Path) -> Path:
    """segmentation.seg.dcm when the CT came from DICOM; NotApplicableError for NIfTI/NRRD input."""
    meta = analysis.volume.meta
    files = meta.get("source_files") or ()
    if not files or image_kind(files[0]):
        raise NotApplicableError("no DICOM source files (input was not DICOM): DICOM SEG not written")
    if meta.get("positions_synthesized"):
        raise NotApplicableError("the source slices all have the same ImagePositionPatient: a DICOM SEG would "
                                 "reference positions that are not real; not written")
    return write_dicom_seg(analysis.labelmap, files, Path(outdir) / "segmentation.seg.dcm")
