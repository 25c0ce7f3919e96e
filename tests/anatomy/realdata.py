"""Reference masks of the real CT cases in ../shared/data, on the grid of the loaded volume.

Used by the real-data tests and by ``scripts/evaluate.py`` (one reading of the references for both).

- TotalSegmentator v2 labels (``totalseg_example``): resampled in physical space onto the volume's
  grid (their y axis is flipped relative to the DICOM grid, their origin cropped), with the mask of
  the slices they cover.
- 3D-IRCADb-01 patient 17 (``ircadb_17``): one binary mask per structure, one DICOM file per slice
  (``MASKS_DICOM/<structure>/image_N``). The masks are matched to the volume's slices by
  InstanceNumber (the files' positions may be unusable), whatever order the loader put them in.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ivcplan.labels import HEPATIC_VEIN_LABELS, IVC_LABELS, RENAL_VEIN_LABELS, Label
from ivcplan.volume import Labelmap, Volume

#: Our labels that make up the expert `venoussystem` mask of 3D-IRCADb (IVC, hepatic and renal veins;
#: the iliac veins too where a scan reaches them).
VENOUS_LABELS: tuple[int, ...] = tuple(int(v) for v in (*IVC_LABELS, *RENAL_VEIN_LABELS.values(),
                                                        *HEPATIC_VEIN_LABELS.values(), Label.ILIAC_VEIN_RIGHT,
                                                        Label.ILIAC_VEIN_LEFT))
IRCADB_STRUCTURES = ("venoussystem", "artery", "liver", "portalvein")


def totalseg_reference(path: Path, volume: Volume) -> tuple[np.ndarray, np.ndarray]:
    """TotalSegmentator ids mapped to ivcplan labels on the volume grid, and its coverage mask."""
    import nibabel

    from ivcplan.io.label_import import load_labels

    imported = load_labels(path, volume, kind="totalseg_v2")
    src = Volume.from_nifti(nibabel.load(str(path)))
    cover = Labelmap(np.ones(src.shape, np.uint8), src.grid).resample_to(volume.grid).array > 0
    return np.asarray(imported.labelmap.array), cover


def _instance_numbers(files: list[str]) -> list[int]:
    import pydicom

    return [int(pydicom.dcmread(f, stop_before_pixels=True, specific_tags=["InstanceNumber"]).InstanceNumber)
            for f in files]


def ircadb_reference(case_dir: Path, volume: Volume) -> dict[str, np.ndarray]:
    """Expert masks of a 3D-IRCADb case on ``volume``'s array (loaded from ``case_dir/PATIENT_DICOM``):
    structure name -> boolean (z, y, x) array."""
    import pydicom

    files = [str(f) for f in volume.meta.get("source_files", ())]
    if len(files) != volume.shape[0]:
        raise ValueError(f"{case_dir}: the volume does not list one source file per slice "
                         f"({len(files)} files, {volume.shape[0]} slices)")
    # The loader's slice k comes from files[k]: check it on one slice (rows and columns as stored).
    k = volume.shape[0] // 2
    ds = pydicom.dcmread(files[k])
    stored = ds.pixel_array.astype(np.float32) * float(ds.get("RescaleSlope", 1)) + float(ds.get("RescaleIntercept", 0))
    if stored.shape != volume.shape[1:] or not np.allclose(stored, volume.array[k], atol=1.0):
        raise ValueError(f"{case_dir}: slice {k} of the loaded volume is not the pixels of {files[k]}")
    slice_of = {n: z for z, n in enumerate(_instance_numbers(files))}
    out = {}
    for name in IRCADB_STRUCTURES:
        mask = np.zeros(volume.shape, dtype=bool)
        folder = case_dir / "MASKS_DICOM" / name
        mask_files = sorted(str(p) for p in folder.iterdir())
        for f, n in zip(mask_files, _instance_numbers(mask_files), strict=True):
            mask[slice_of[n]] = pydicom.dcmread(f).pixel_array > 0
        out[name] = mask
    return out
