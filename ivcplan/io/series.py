"""DICOM discovery: read headers (never pixels), group images into series, describe and rank them.

A *slice* here is one 2D image: a single-frame file, one frame of a multi-frame (enhanced) file or
one tile of a Siemens mosaic. `scan_files` turns files into `SeriesInfo` records; `choose` marks
the series a planner wants. Pixel decoding lives in `ivcplan.io.dicom`.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError

from ivcplan.errors import NotDicomError

log = logging.getLogger(__name__)

#: Transfer syntaxes whose pixel bytes are stored raw, little endian: read straight from disk.
NATIVE_LE = frozenset({"1.2.840.10008.1.2", "1.2.840.10008.1.2.1"})
#: Two ImageOrientationPatient vectors agree within this (unitless, per component).
ORIENTATION_TOLERANCE = 1e-3
#: A slice normal within this angle (deg) of an LPS axis names the plane axial/coronal/sagittal.
PLANE_LABEL_TOLERANCE_DEG = 30.0
DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"
_UNDEFINED_LENGTH = 0xFFFFFFFF

_CONTRAST_YES = re.compile(r"contrast|kontrast|\bc\+|\+c\b|\bce\b|\bkm\b|venous|venös|arter|portal|\bpv\b|angio|"
                           r"delay|nephro|\bcta\b|enhanced", re.IGNORECASE)
_CONTRAST_NO = re.compile(r"non[- _]?contrast|without|w/o|\bnativ|\bnc\b|\bc-|plain|unenhanced|non[- _]?enhanced",
                          re.IGNORECASE)
_NO_AGENT = {"", "none", "no", "nil", "n/a", "na", "-"}


@dataclass(frozen=True)
class SliceRef:
    """Where one 2D image lives and how to turn its stored values into HU."""

    path: str
    frame: int | None  # frame index in a multi-frame file, None for a single-frame file
    tile: int | None  # mosaic tile index, None otherwise
    position: tuple[float, float, float] | None
    orientation: tuple[float, ...] | None  # ImageOrientationPatient (row cosines, column cosines)
    rows: int
    cols: int
    pixel_spacing: tuple[float, float] | None  # (between rows, between columns) mm
    thickness: float | None
    slope: float
    intercept: float
    localizer: bool
    instance: int | None


@dataclass(frozen=True)
class PixelFormat:
    """Pixel storage of a file: what the reader needs to decode it."""

    transfer_syntax: str
    bits_allocated: int
    bits_stored: int
    pixel_representation: int
    samples: int
    frame_rows: int  # stored frame size (the mosaic frame for a mosaic)
    frame_cols: int
    n_frames: int
    offset: int | None  # file offset of the first pixel byte for native little-endian data
    length: int | None  # byte length of the PixelData value (None when encapsulated)
    tiles_per_row: int = 1


@dataclass(frozen=True)
class FileHeader:
    path: str
    series_uid: str  # "" when the file has none (anonymised data)
    group_key: str  # what groups files into a series: the UID, or a stand-in built from other attributes
    study_uid: str
    modality: str
    description: str
    contrast_agent: str
    patient_position: str
    patient_id: str
    series_number: int | None
    sop_class: str
    image_type: tuple[str, ...]
    pixels: PixelFormat | None  # None: the file holds no image data
    slices: tuple[SliceRef, ...]


@dataclass(frozen=True)
class SeriesInfo:
    """One series found by `ivcplan.io.scan` (what `ivcplan info` prints)."""

    number: int
    uid: str
    modality: str
    description: str
    n_files: int
    n_slices: int  # images that can stack into the volume (localizers excluded)
    rows: int
    cols: int
    spacing: tuple[float, float, float] | None  # (slice, row, column) mm; slice from positions
    orientation: str  # axial / coronal / sagittal / oblique / unknown
    thickness: float | None
    contrast: bool | None  # contrast-enhanced per description / ContrastBolusAgent; None = unknown
    contrast_agent: str
    series_number: int | None
    transfer_syntax: str
    problems: tuple[str, ...]
    chosen: bool = False
    reason: str = ""
    headers: tuple[FileHeader, ...] = field(default=(), repr=False, compare=False)

    @property
    def files(self) -> list[str]:
        return [h.path for h in self.headers]


# -- reading one header ----------------------------------------------------------------------------------
def _floats(value, n: int) -> tuple[float, ...] | None:
    if value is None:
        return None
    try:
        out = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return out if len(out) == n and all(np.isfinite(out)) else None


def _first(seq_item, keyword: str):
    """Attribute ``keyword`` inside the first item of a functional-group macro sequence."""
    for name in ("PlanePositionSequence", "PlaneOrientationSequence", "PixelMeasuresSequence",
                 "PixelValueTransformationSequence", "CTImageFrameTypeSequence"):
        seq = seq_item.get(name)
        if seq and keyword in seq[0]:
            return seq[0].get(keyword)
    return None


def _pixel_location(fp, ds) -> tuple[int | None, int | None, bool]:
    """(offset, length, present) of the PixelData value right after the header that pydicom read."""
    pos = fp.tell()
    head = fp.read(12)
    if len(head) < 8 or head[:4] not in (b"\xe0\x7f\x10\x00", b"\x7f\xe0\x00\x10"):  # LE or BE tag
        return None, None, False
    if ds.file_meta.get("TransferSyntaxUID") == "1.2.840.10008.1.2":  # implicit VR: tag + 4-byte length
        length = int.from_bytes(head[4:8], "little")
        start = pos + 8
    else:  # explicit VR OB/OW: tag + VR + 2 reserved + 4-byte length
        length = int.from_bytes(head[8:12], "little")
        start = pos + 12
    if length == _UNDEFINED_LENGTH:
        return None, None, True
    return start, length, True


def _mosaic_tiles(ds, image_type: Sequence[str]) -> int:
    if "MOSAIC" not in image_type:
        return 0
    try:
        return int(ds.private_block(0x0019, "SIEMENS MR HEADER")[0x0A].value)
    except (KeyError, ValueError, TypeError):
        return 0


def read_header(path: str | os.PathLike) -> FileHeader:
    """Parse one file's header (no pixel decoding). Raises NotDicomError for a non-DICOM file."""
    path = str(path)
    try:
        with open(path, "rb") as fp:
            ds = pydicom.dcmread(fp, stop_before_pixels=True)
            has_native = str(ds.file_meta.get("TransferSyntaxUID", "")) in NATIVE_LE
            offset, length, present = _pixel_location(fp, ds)
    except InvalidDicomError as exc:
        raise NotDicomError(f"not a DICOM file ({exc})", path) from None
    except (OSError, EOFError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise NotDicomError(f"cannot parse the DICOM header ({type(exc).__name__}: {exc})", path) from None
    identified = any(k in ds for k in ("SOPClassUID", "SeriesInstanceUID", "Modality"))
    if not (identified or "MediaStorageSOPClassUID" in ds.file_meta):
        raise NotDicomError("not a DICOM file (no SOP class, series or modality)", path)
    return _header_from_dataset(path, ds, offset if has_native else None, length if has_native else None, present)


_TEXT_VRS = frozenset({"DS", "IS", "CS", "UI", "AS", "DA", "TM"})
_PERSON_TEXT_VRS = frozenset({"LO", "SH"})  # may use another character set: decoded raw only for Latin-1/ASCII
_LATIN1_SETS = frozenset({"", "ISO_IR 6", "ISO_IR 100", "ISO 2022 IR 6"})


@functools.cache
def _tag_vr(keyword: str) -> tuple[int | None, str]:
    from pydicom.datadict import dictionary_VR, tag_for_keyword

    tag = tag_for_keyword(keyword)
    return tag, dictionary_VR(tag) if tag is not None else ""


class _Fields:
    """Top-level attributes read straight from pydicom's raw elements: converting DS/IS values through
    pydicom's validated types costs more than parsing the whole header, and a series has many files."""

    def __init__(self, ds) -> None:
        self.ds = ds
        self.big_endian = str(ds.file_meta.get("TransferSyntaxUID", "")) == "1.2.840.10008.1.2.2"
        charset = ds.get("SpecificCharacterSet", "") if 0x00080005 in ds else ""
        self.latin1 = (charset if isinstance(charset, str) else "\\".join(charset)).strip() in _LATIN1_SETS

    def values(self, keyword: str) -> list | None:
        """All values of an attribute (strings for text VRs, ints for US), None when absent."""
        from pydicom.dataelem import RawDataElement

        tag, vr = _tag_vr(keyword)
        if tag is None or tag not in self.ds:
            return None
        elem = self.ds.get_item(tag)
        raw_text = vr in _TEXT_VRS or (vr in _PERSON_TEXT_VRS and self.latin1)
        if isinstance(elem, RawDataElement) and raw_text and elem.value is not None:
            text = elem.value.decode("latin-1").strip(" \x00")
            return [v.strip() for v in text.split("\\")] if text else []
        if isinstance(elem, RawDataElement) and vr == "US" and elem.value is not None and len(elem.value) >= 2:
            return [int.from_bytes(elem.value[:2], "big" if self.big_endian else "little")]
        value = self.ds.get(keyword)
        if value is None or value == "":
            return []
        return list(value) if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue" else [value]

    def get(self, keyword: str, default=None):
        """The single value of an attribute, or a list when it has several; ``default`` when absent/empty."""
        values = self.values(keyword)
        if not values:
            return default
        return values[0] if len(values) == 1 else values

    def number(self, keyword: str, default, kind=float):
        value = self.get(keyword)
        try:
            return kind(float(value)) if value not in (None, "") and not isinstance(value, list) else default
        except ValueError:
            return default


def _header_from_dataset(path: str, ds, offset: int | None, length: int | None, present: bool) -> FileHeader:
    f = _Fields(ds)
    ts = str(ds.file_meta.get("TransferSyntaxUID", ""))
    image_type = tuple(str(v).upper() for v in f.values("ImageType") or [])
    rows, cols = f.number("Rows", 0, int), f.number("Columns", 0, int)
    n_frames = f.number("NumberOfFrames", 1, int) or 1
    pixels = None
    if present and rows and cols:
        tiles = _mosaic_tiles(ds, image_type)
        bits = f.number("BitsAllocated", 16, int)
        pixels = PixelFormat(
            transfer_syntax=ts, bits_allocated=bits, bits_stored=f.number("BitsStored", bits, int),
            pixel_representation=f.number("PixelRepresentation", 0, int),
            samples=f.number("SamplesPerPixel", 1, int), frame_rows=rows, frame_cols=cols, n_frames=n_frames,
            offset=offset, length=length, tiles_per_row=int(np.ceil(np.sqrt(tiles))) if tiles else 1)
    localizer = "LOCALIZER" in image_type
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    instance = f.number("InstanceNumber", None, int)
    slices: list[SliceRef] = []
    if pixels is None:
        pass
    elif per_frame is not None:
        shared = (ds.get("SharedFunctionalGroupsSequence") or [None])[0]
        for index, item in enumerate(per_frame):
            def get(keyword, item=item):
                value = _first(item, keyword)
                return value if value is not None or shared is None else _first(shared, keyword)
            frame_type = tuple(str(v).upper() for v in (get("FrameType") or []))
            slices.append(_slice(path, index, None, get("ImagePositionPatient"), get("ImageOrientationPatient"),
                                 rows, cols, get("PixelSpacing"), get("SliceThickness"), get("RescaleSlope"),
                                 get("RescaleIntercept"), localizer or "LOCALIZER" in frame_type, instance))
    elif pixels.tiles_per_row > 1:
        slices.extend(_mosaic_slices(path, ds, pixels))
    else:
        for index in range(n_frames):
            slices.append(_slice(path, index if n_frames > 1 else None, None, f.values("ImagePositionPatient"),
                                 f.values("ImageOrientationPatient"), rows, cols, f.values("PixelSpacing"),
                                 f.get("SliceThickness"), f.get("RescaleSlope"), f.get("RescaleIntercept"),
                                 localizer, instance))
    series_number = f.number("SeriesNumber", None, int)
    uid = str(f.get("SeriesInstanceUID", ""))
    study_uid = str(f.get("StudyInstanceUID", ""))
    modality = str(f.get("Modality", "")).upper()
    description = "\\".join(str(v) for v in f.values("SeriesDescription") or [])
    # without a UID, files of one folder with the same modality, number, description and matrix are one series
    key = uid or "|".join(str(v) for v in (Path(path).parent, modality, series_number, rows, cols, description,
                                            study_uid))
    return FileHeader(
        path=path, series_uid=uid, group_key=key, study_uid=study_uid, modality=modality, description=description,
        contrast_agent=str(f.get("ContrastBolusAgent", "")).strip(),
        patient_position=str(f.get("PatientPosition", "")), patient_id=str(f.get("PatientID", "")),
        series_number=series_number,
        sop_class=str(f.get("SOPClassUID", "") or ds.file_meta.get("MediaStorageSOPClassUID", "")),
        image_type=image_type, pixels=pixels, slices=tuple(slices))


def _slice(path, frame, tile, ipp, iop, rows, cols, spacing, thickness, slope, intercept, localizer,
           instance) -> SliceRef:
    return SliceRef(
        path=path, frame=frame, tile=tile, position=_floats(ipp, 3), orientation=_floats(iop, 6), rows=rows,
        cols=cols, pixel_spacing=_floats(spacing, 2),
        thickness=float(thickness) if thickness not in (None, "") else None,
        slope=float(slope) if slope not in (None, "") else 1.0,
        intercept=float(intercept) if intercept not in (None, "") else 0.0, localizer=localizer,
        instance=int(instance) if instance not in (None, "") else None)


def _mosaic_slices(path: str, ds, pixels: PixelFormat) -> list[SliceRef]:
    """Siemens mosaic: tiles laid out row by row; ImagePositionPatient refers to the whole frame's
    corner, so each tile's position is shifted to the tile's own corner, then stepped along the normal."""
    n_tiles = _mosaic_tiles(ds, ("MOSAIC",))
    per_row = pixels.tiles_per_row
    rows, cols = pixels.frame_rows // per_row, pixels.frame_cols // per_row
    iop = _floats(ds.get("ImageOrientationPatient"), 6)
    ipp = _floats(ds.get("ImagePositionPatient"), 3)
    spacing = _floats(ds.get("PixelSpacing"), 2)
    step = ds.get("SpacingBetweenSlices") or ds.get("SliceThickness")
    out = []
    for t in range(n_tiles):
        position = None
        if iop and ipp and spacing and step:
            row_dir, col_dir = np.asarray(iop[:3]), np.asarray(iop[3:])
            corner = (np.asarray(ipp) + row_dir * spacing[1] * (pixels.frame_cols - cols) / 2
                      + col_dir * spacing[0] * (pixels.frame_rows - rows) / 2)
            position = corner + np.cross(row_dir, col_dir) * float(step) * t
        out.append(_slice(path, None, t, position, iop, rows, cols, spacing, ds.get("SliceThickness"),
                          ds.get("RescaleSlope"), ds.get("RescaleIntercept"), False, ds.get("InstanceNumber")))
    return out


# -- finding files -----------------------------------------------------------------------------------
def dicomdir_files(path: str | os.PathLike) -> list[str]:
    """Image files referenced by a DICOMDIR (paths resolved relative to its folder)."""
    ds = pydicom.dcmread(path)
    root = Path(path).parent
    out = []
    for record in ds.get("DirectoryRecordSequence", []):
        ref = record.get("ReferencedFileID")
        if ref is None:
            continue
        parts = [ref] if isinstance(ref, str) else list(ref)
        out.append(str(root.joinpath(*parts)))
    return out


def is_dicomdir(header: FileHeader) -> bool:
    return header.sop_class == DICOMDIR_SOP_CLASS or Path(header.path).name.upper() == "DICOMDIR"


def list_files(root: Path) -> list[str]:
    """Every regular file under ``root`` (recursive, sorted, hidden files skipped)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        out.extend(os.path.join(dirpath, f) for f in sorted(filenames) if not f.startswith("."))
    return out


def read_headers(paths: Iterable[str]) -> tuple[list[FileHeader], int]:
    """Headers of the DICOM files among ``paths`` (others are skipped) and how many were skipped."""
    headers, skipped = [], 0
    for p in paths:
        try:
            header = read_header(p)
        except NotDicomError as exc:
            log.debug("skipping %s", exc)
            skipped += 1
            continue
        if is_dicomdir(header):
            continue
        headers.append(header)
    return headers, skipped


# -- describing series -------------------------------------------------------------------------------
def plane_label(orientation: Sequence[float] | None) -> str:
    if orientation is None:
        return "unknown"
    normal = np.cross(orientation[:3], orientation[3:])
    axis = int(np.argmax(np.abs(normal)))
    if np.degrees(np.arccos(min(1.0, abs(float(normal[axis]))))) > PLANE_LABEL_TOLERANCE_DEG:
        return "oblique"
    return ("sagittal", "coronal", "axial")[axis]


def contrast_hint(description: str, agent: str) -> bool | None:
    if agent.strip().lower() not in _NO_AGENT:
        return True
    if _CONTRAST_NO.search(description):
        return False
    if _CONTRAST_YES.search(description):
        return True
    return None


def stack_slices(headers: Sequence[FileHeader]) -> tuple[list[SliceRef], list[str]]:
    """The slices that can form a volume, and why others were set aside (localizers, other planes)."""
    all_slices = [s for h in headers for s in h.slices]
    notes = []
    slices = [s for s in all_slices if not s.localizer]
    if len(slices) < len(all_slices):
        notes.append(f"{len(all_slices) - len(slices)} localizer/scout image(s) skipped")
    oriented = [s for s in slices if s.orientation is not None]
    if oriented:
        # the dominant orientation defines the stack; images in other planes are scouts/reformats mixed in
        keys = [tuple(np.round(s.orientation, 2)) for s in oriented]
        values, counts = np.unique(np.asarray(keys), axis=0, return_counts=True)
        main = values[int(np.argmax(counts))]
        keep = [s for s in slices if s.orientation is None
                or np.allclose(np.asarray(s.orientation), main, atol=max(ORIENTATION_TOLERANCE, 0.01))]
        if len(keep) < len(slices):
            notes.append(f"{len(slices) - len(keep)} image(s) in another orientation skipped (localizer/reformat)")
        slices = keep
    return slices, notes


def describe(headers: Sequence[FileHeader], number: int) -> SeriesInfo:
    first = headers[0]
    slices, notes = stack_slices(headers)
    problems = list(notes)
    rows = cols = 0
    spacing = None
    thickness = None
    orientation = "unknown"
    if first.pixels is None or not slices:
        problems.append("no image data")
    else:
        sizes = {(s.rows, s.cols) for s in slices}
        rows, cols = max(sizes, key=lambda rc: sum((s.rows, s.cols) == rc for s in slices))
        if len(sizes) > 1:
            problems.append(f"inconsistent rows/columns: {sorted(sizes)}")
        ref = slices[0]
        orientation = plane_label(ref.orientation)
        thickness = ref.thickness
        positions = [s.position for s in slices if s.position is not None]
        if ref.orientation is not None and len(positions) >= 2 and ref.pixel_spacing:
            normal = np.cross(ref.orientation[:3], ref.orientation[3:])
            d = np.sort(np.asarray(positions) @ normal)
            steps = np.diff(d)
            steps = steps[steps > 1e-3]
            step = float(np.median(steps)) if steps.size else 0.0
            spacing = (round(step, 4), ref.pixel_spacing[0], ref.pixel_spacing[1])
        if len(slices) < 2:
            problems.append("single slice: a volume needs at least 2")
        if ref.position is None or ref.orientation is None:
            problems.append("no ImagePositionPatient/ImageOrientationPatient")
    return SeriesInfo(
        number=number, uid=first.series_uid, modality=first.modality, description=first.description,
        n_files=len(headers), n_slices=len(slices), rows=rows, cols=cols, spacing=spacing, orientation=orientation,
        thickness=thickness, contrast=contrast_hint(first.description, first.contrast_agent),
        contrast_agent=first.contrast_agent, series_number=first.series_number,
        transfer_syntax=first.pixels.transfer_syntax if first.pixels else "", problems=tuple(problems),
        headers=tuple(headers))


def group(headers: Sequence[FileHeader]) -> list[SeriesInfo]:
    """One SeriesInfo per SeriesInstanceUID (or stand-in key), numbered 1.. by SeriesNumber, description, uid."""
    by_uid: dict[str, list[FileHeader]] = {}
    for h in headers:
        by_uid.setdefault(h.group_key, []).append(h)
    groups = sorted(by_uid.values(), key=lambda hs: (hs[0].series_number is None, hs[0].series_number or 0,
                                                      hs[0].description, hs[0].group_key))
    return [describe(hs, i + 1) for i, hs in enumerate(groups)]


_FATAL = ("no image data", "single slice", "inconsistent rows/columns", "no ImagePositionPatient")


def usable(info: SeriesInfo) -> bool:
    return not any(p.startswith(_FATAL) for p in info.problems)


def choose(series: Sequence[SeriesInfo]) -> list[SeriesInfo]:
    """Mark the series a planner wants: CT, axial, most slices, thinnest, contrast-enhanced."""
    candidates = [s for s in series if s.modality == "CT" and usable(s)]
    if not candidates:
        return list(series)

    def key(s: SeriesInfo):
        return (s.orientation != "axial", -s.n_slices, s.thickness if s.thickness else np.inf, s.contrast is not True)

    best = min(candidates, key=key)
    return [replace(s, chosen=True, reason=_reason(best, candidates)) if s is best else s for s in series]


def _reason(best: SeriesInfo, candidates: Sequence[SeriesInfo]) -> str:
    """Say why ``best`` won, criterion by criterion among the series still tied at that point."""
    parts = [f"series {best.number}"]
    if len(candidates) == 1:
        parts.append("the only usable CT series")
    else:
        parts.append(f"chosen among {len(candidates)} usable CT series")
    tied = [c for c in candidates if c is not best]
    if best.orientation == "axial" and any(c.orientation != "axial" for c in tied):
        parts.append("axial (preferred to other planes)")
    else:
        parts.append(best.orientation)
    tied = [c for c in tied if (c.orientation == "axial") == (best.orientation == "axial")]
    parts.append(f"{best.n_slices} slices" + (" (most)" if any(c.n_slices < best.n_slices for c in tied) else ""))
    tied = [c for c in tied if c.n_slices == best.n_slices]
    if best.thickness:
        thinner = any(c.thickness is None or c.thickness > best.thickness for c in tied)
        parts.append(f"{best.thickness:g} mm thick" + (" (thinnest)" if thinner else ""))
    if best.contrast:
        source = f"ContrastBolusAgent '{best.contrast_agent}'" if best.contrast_agent else "series description"
        parts.append(f"contrast-enhanced ({source})")
    elif best.contrast is False:
        parts.append("non-contrast")
    return ", ".join(parts)
