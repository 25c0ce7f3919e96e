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


def nibabel_quiet():
    """nibabel, without the console handler it installs on its "nibabel.global" logger: its header fixes
    ("pixdim[1,2,3] should be non-zero; setting 0 dims to 1") then reach the caller's log like any library
    record instead of the terminal (library code never prints)."""
    import logging

    import nibabel

    logger = logging.getLogger("nibabel.global")
    for handler in [h for h in logger.handlers if type(h) is logging.StreamHandler]:
        logger.removeHandler(handler)
    return nibabel


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


def parse_spacing(text: str | None, option: str = "--assume-spacing") -> tuple[float, float, float] | None:
    """``"2.5,0.8,0.8"`` -> (2.5, 0.8, 0.8) mm in array order (slice, row, column); None stays None."""
    if text is None:
        return None
    from ivcplan.errors import OptionError

    parts = [p.strip() for p in str(text).replace("x", ",").split(",")]
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 3 or not all(np.isfinite(v) and v > 0 for v in values):
        raise OptionError(f"expected three positive voxel sizes in mm as Z,Y,X (e.g. 2.5,0.8,0.8), got {text!r}",
                          option)
    return values  # type: ignore[return-value]


def _raw_pixdim(image, path: Path) -> tuple[float, ...]:
    """pixdim[1..3] as stored (nibabel's loaded header replaces zeros by 1)."""
    from nibabel.openers import ImageOpener

    try:
        with ImageOpener(str(path)) as fobj:
            raw = type(image.header).from_fileobj(fobj, check=False)
        return tuple(float(v) for v in raw["pixdim"][1:4])
    except Exception:  # unreadable raw header: report what nibabel made of it
        return tuple(float(v) for v in image.header.get_zooms()[:3])


def _nifti_affine(image, path: Path, assume_spacing: tuple[float, float, float] | None) -> tuple[np.ndarray, str]:
    """The RAS affine of a NIfTI image and a warning ("" when none). A file whose qform_code and sform_code
    are both 0 has no spatial header: its voxel size and orientation are unknown, and nibabel's fallback
    (pixdim, or 1 mm when pixdim is 0) would be a guess. It is refused unless the caller gives the spacing."""
    header = image.header
    codes = (int(np.asarray(header["qform_code"])), int(np.asarray(header["sform_code"])))
    if codes != (0, 0):
        ignored = "; --assume-spacing ignored: the file has a spatial header" if assume_spacing else ""
        return image.affine, ignored.lstrip("; ")
    zooms = " x ".join(f"{float(z):g}" for z in _raw_pixdim(image, path)[::-1])
    if assume_spacing is None:
        raise InputError(f"no spatial header: qform_code and sform_code are both 0, so the voxel size and "
                         f"orientation are unknown (pixdim says {zooms} mm, z x y x x); give --assume-spacing Z,Y,X "
                         "in mm to analyse it anyway", path)
    z, y, x = assume_spacing
    affine = np.diag([x, y, z, 1.0])  # NIfTI-1 "method 1": voxel axes i, j, k along RAS x, y, z
    warning = (f"no spatial header (qform_code and sform_code 0): voxel size {z:g} x {y:g} x {x:g} mm (z, y, x) "
               "assumed from --assume-spacing; orientation unknown, taken as NIfTI method 1 (i towards the "
               "patient's right, j anterior, k towards the head); left/right and positions are not known")
    return affine, warning


def load_image(path: str | os.PathLike, *, assume_spacing: tuple[float, float, float] | None = None) -> Volume:
    """Volume from a NIfTI, NRRD or MHA/MHD file (scaling applied, HU as int16 or float32).

    A NIfTI without a spatial header (qform and sform codes 0) is refused unless ``assume_spacing``
    (z, y, x mm) is given; the volume then carries a warning saying what was assumed.
    """
    path = Path(path)
    kind = image_kind(path)
    # same keys as a DICOM volume: research formats carry no series metadata
    meta = {"source_path": str(path), "series_instance_uid": "", "study_instance_uid": "", "modality": "",
            "series_description": path.name, "patient_position": "", "transfer_syntax": "", "contrast_agent": "",
            "series_number": None, "patient_id": "", "chosen_reason": f"single image file ({kind})",
            "source_files": [str(path)], "positions_synthesized": False, "rescale_absent": False}
    warnings: list[str] = []
    try:
        if kind == "nifti":
            nibabel = nibabel_quiet()
            image = nibabel.load(str(path))
            affine, warning = _nifti_affine(image, path, assume_spacing)
            warnings += [warning] if warning else []
            scaled = np.asanyarray(image.dataobj)
            if scaled.ndim == 4 and scaled.shape[3] == 1:
                scaled = scaled[..., 0]
            if scaled.ndim != 3:
                raise InputError(f"image must be 3D, got shape {scaled.shape}", path)
            volume = Volume.from_nifti(nibabel.Nifti1Image(_hu_array(scaled), affine), meta)
        elif kind == "itk":
            import SimpleITK as sitk

            image = sitk.ReadImage(str(path))
            if image.GetDimension() != 3 or image.GetNumberOfComponentsPerPixel() != 1:
                raise InputError(f"image must be a 3D scalar image, got {image.GetDimension()}D with "
                                 f"{image.GetNumberOfComponentsPerPixel()} component(s)", path)
            volume = Volume.from_sitk(image, meta)
            volume = volume.with_array(_hu_array(volume.array))
            if assume_spacing is not None:
                warnings.append("--assume-spacing ignored: it applies to NIfTI files without a spatial header")
        else:
            raise InputError("unknown image format (expected .nii, .nii.gz, .nrrd, .nhdr, .mha or .mhd)", path)
    except InputError:
        raise
    except Exception as exc:  # nibabel/ITK raise many types for a damaged file
        raise InputError(f"cannot read {kind} image ({type(exc).__name__}: {exc})", path) from None
    return volume.with_warnings(*warnings) if warnings else volume


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
