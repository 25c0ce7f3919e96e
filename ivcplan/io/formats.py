"""Research image formats: NIfTI (nibabel; RAS converted to LPS by `Volume.from_nifti`), NRRD/NHDR and
MHA/MHD (SimpleITK, already LPS)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ivcplan.errors import InputError
from ivcplan.volume import Labelmap, Volume

NIFTI_SUFFIXES = (".nii", ".nii.gz")
ITK_SUFFIXES = (".nrrd", ".nhdr", ".mha", ".mhd")
_INT16 = np.iinfo(np.int16)


def image_kind(path: str | os.PathLike) -> str | None:
    """'nifti', 'itk' or None (not a research image format: maybe DICOM) from the file name."""
    name = Path(path).name.lower()
    if name.endswith(NIFTI_SUFFIXES):
        return "nifti"
    if name.endswith(ITK_SUFFIXES):
        return "itk"
    return None


def _hu_array(array: np.ndarray) -> np.ndarray:
    """int16 when the values are integers within int16, else float32 (the Volume HU convention)."""
    integer = np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.bool_)
    if integer and (array.size == 0 or (array.min() >= _INT16.min and array.max() <= _INT16.max)):
        return array.astype(np.int16, copy=False)
    return array.astype(np.float32, copy=False)


def load_image(path: str | os.PathLike) -> Volume:
    """Volume from a NIfTI, NRRD or MHA/MHD file (scaling applied, HU as int16 or float32)."""
    path = Path(path)
    kind = image_kind(path)
    # same keys as a DICOM volume: research formats carry no series metadata
    meta = {"source_path": str(path), "series_instance_uid": "", "study_instance_uid": "", "modality": "",
            "series_description": path.name, "patient_position": "", "transfer_syntax": "", "contrast_agent": "",
            "series_number": None, "patient_id": "", "chosen_reason": f"single image file ({kind})",
            "source_files": [str(path)]}
    try:
        if kind == "nifti":
            import nibabel

            image = nibabel.load(str(path))
            scaled = np.asanyarray(image.dataobj)
            if scaled.ndim == 4 and scaled.shape[3] == 1:
                scaled = scaled[..., 0]
            if scaled.ndim != 3:
                raise InputError(f"image must be 3D, got shape {scaled.shape}", path)
            volume = Volume.from_nifti(nibabel.Nifti1Image(_hu_array(scaled), image.affine), meta)
        elif kind == "itk":
            import SimpleITK as sitk

            image = sitk.ReadImage(str(path))
            if image.GetDimension() != 3 or image.GetNumberOfComponentsPerPixel() != 1:
                raise InputError(f"image must be a 3D scalar image, got {image.GetDimension()}D with "
                                 f"{image.GetNumberOfComponentsPerPixel()} component(s)", path)
            volume = Volume.from_sitk(image, meta)
            volume = volume.with_array(_hu_array(volume.array))
        else:
            raise InputError("unknown image format (expected .nii, .nii.gz, .nrrd, .nhdr, .mha or .mhd)", path)
    except InputError:
        raise
    except Exception as exc:  # nibabel/ITK raise many types for a damaged file
        raise InputError(f"cannot read {kind} image ({type(exc).__name__}: {exc})", path) from None
    return volume


def save_nifti(image: Volume | Labelmap, path: str | os.PathLike) -> Path:
    """Write a Volume or Labelmap as NIfTI (.nii or .nii.gz); returns the path written."""
    import nibabel

    path = Path(path)
    if not path.name.lower().endswith(NIFTI_SUFFIXES):
        raise InputError("NIfTI output needs a .nii or .nii.gz name", path)
    if not isinstance(image, Volume | Labelmap):
        raise TypeError(f"save_nifti needs a Volume or Labelmap, got {type(image).__name__}")
    nibabel.save(image.to_nifti(), str(path))
    return path
