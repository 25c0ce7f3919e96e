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

from ivcplan.errors import NotDicomError, UnreadableFileError
from ivcplan.io.files import Unreadable, regular_file_problem, walk_files
from ivcplan.io.tags import BITS_ALLOCATED, MAX_FRAMES, MAX_IMAGE_DIMENSION, HeaderProblem, TagReader

log = logging.getLogger(__name__)

#: Transfer syntaxes whose pixel bytes are stored raw, little endian: read straight from disk.
NATIVE_LE = frozenset({"1.2.840.10008.1.2", "1.2.840.10008.1.2.1"})
#: Two ImageOrientationPatient vectors agree within this (unitless, per component).
ORIENTATION_TOLERANCE = 1e-3
#: A slice normal within this angle (deg) of an LPS axis names the plane axial/coronal/sagittal.
PLANE_LABEL_TOLERANCE_DEG = 30.0
DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"
#: Slice positions within this of each other (mm, per LPS coordinate) are the same position.
SAME_POSITION_TOLERANCE_MM = 0.01
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
    spacing_between: float | None = None  # SpacingBetweenSlices (mm), when given and valid


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
    #: Why the stored pixel data look incomplete (None: they do not). Certain for native data (declared size
    #: against stored length and file size); a hint for encapsulated data (no closing delimiter at the end).
    damaged: str | None = None

    @property
    def expected_bytes(self) -> int:
        """Bytes that Rows x Columns x frames x samples x BitsAllocated need when stored natively."""
        bits = self.frame_rows * self.frame_cols * self.n_frames * self.samples * self.bits_allocated
        return (bits + 7) // 8


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
    sop_uid: str = ""
    problems: tuple[HeaderProblem, ...] = ()  # bad header values (fatal ones make the file unusable)
    rescale_absent: bool = False  # an image without RescaleSlope/RescaleIntercept (stored values taken as is)

    @property
    def fatal(self) -> HeaderProblem | None:
        """The first problem that keeps this file's image out of a volume (None when there is none)."""
        return next((p for p in self.problems if p.fatal), None)


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
def _first(seq_item, keyword: str):
    """Attribute ``keyword`` inside the first item of a functional-group macro sequence (its raw text when
    pydicom cannot convert it, so that the value parser names it)."""
    for name in ("PlanePositionSequence", "PlaneOrientationSequence", "PixelMeasuresSequence",
                 "PixelValueTransformationSequence", "CTImageFrameTypeSequence"):
        try:
            seq = seq_item.get(name)
            if seq and keyword in seq[0]:
                return seq[0].get(keyword)
        except Exception:  # pydicom raises many types for a value it cannot convert
            return _raw_text(seq[0], keyword) if seq else None
    return None


def _raw_text(ds, keyword: str) -> str | None:
    from pydicom.datadict import tag_for_keyword

    try:
        value = ds.get_item(tag_for_keyword(keyword)).value
    except Exception:  # nothing readable at all
        return "<unreadable>"
    return value.decode("latin-1", "replace") if isinstance(value, bytes) else str(value)


_SEQUENCE_DELIMITER = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"


def _pixel_location(fp, ds) -> tuple[int | None, int | None, bool]:
    """(offset, length, present) of the PixelData value right after the header that pydicom read;
    length None when encapsulated (undefined length)."""
    pos = fp.tell()
    head = fp.read(12)
    big = head[:4] == b"\x7f\xe0\x00\x10"
    if len(head) < 8 or not (head[:4] == b"\xe0\x7f\x10\x00" or big):
        return None, None, False
    order = "big" if big else "little"
    if ds.file_meta.get("TransferSyntaxUID") == "1.2.840.10008.1.2":  # implicit VR: tag + 4-byte length
        length = int.from_bytes(head[4:8], order)
        start = pos + 8
    else:  # explicit VR OB/OW: tag + VR + 2 reserved + 4-byte length
        length = int.from_bytes(head[8:12], order)
        start = pos + 12
    if length == _UNDEFINED_LENGTH:
        return None, None, True
    return start, length, True


def _mosaic_tiles(ds, image_type: Sequence[str]) -> int:
    if "MOSAIC" not in image_type:
        return 0
    try:
        return int(ds.private_block(0x0019, "SIEMENS MR HEADER")[0x0A].value)
    except Exception:  # absent, or a value pydicom cannot read: not a usable mosaic
        return 0


def _cut_element(ds) -> str | None:
    """The last element read when the file ended inside its value (pydicom stops there silently)."""
    from pydicom.dataelem import RawDataElement

    if not len(ds):
        return None
    elem = ds.get_item(max(ds.keys()))
    if isinstance(elem, RawDataElement) and isinstance(elem.value, bytes) and elem.length != _UNDEFINED_LENGTH \
            and len(elem.value) < elem.length:
        return f"element {elem.tag} ({len(elem.value)} of {elem.length} bytes)"
    return None


def _has_dicom_magic(path: str) -> bool:
    """Whether the file starts like a DICOM Part-10 file (128-byte preamble, then "DICM")."""
    try:
        with open(path, "rb") as fp:
            fp.seek(128)
            return fp.read(4) == b"DICM"
    except OSError:
        return False


def read_header(path: str | os.PathLike) -> FileHeader:
    """Parse one file's header (no pixel decoding). Raises NotDicomError for a file that is not DICOM and
    UnreadableFileError for one that cannot be read (not a regular file, no permission, damaged header)."""
    path = str(path)
    problem = regular_file_problem(path)
    if problem:
        raise UnreadableFileError(problem, path)
    try:
        with open(path, "rb") as fp:
            ds = pydicom.dcmread(fp, stop_before_pixels=True)
            offset, length, present = _pixel_location(fp, ds)
            size = os.fstat(fp.fileno()).st_size
            tail = b""
            if present and length is None:  # encapsulated: a complete file ends with the sequence delimiter
                fp.seek(max(0, size - len(_SEQUENCE_DELIMITER)))
                tail = fp.read(len(_SEQUENCE_DELIMITER))
    except InvalidDicomError as exc:
        if _has_dicom_magic(path):
            raise UnreadableFileError(f"damaged DICOM header ({exc})", path) from None
        raise NotDicomError(f"not a DICOM file ({exc})", path) from None
    except OSError as exc:
        raise UnreadableFileError(f"cannot be read ({exc.strerror or exc})", path) from None
    except MemoryError:
        raise UnreadableFileError("damaged DICOM header (a declared value length exceeds the memory)", path) from None
    except Exception as exc:  # pydicom raises many types for a damaged header
        raise UnreadableFileError(f"damaged DICOM header ({type(exc).__name__}: {exc})", path) from None
    try:
        cut = _cut_element(ds) if not present else None
        if cut:
            raise UnreadableFileError(f"damaged DICOM file: it ends inside {cut} (truncated?)", path)
        if not len(ds) and not present and "MediaStorageSOPClassUID" in ds.file_meta:
            raise UnreadableFileError("damaged DICOM file: nothing follows its file meta information (truncated?)",
                                      path)
        identified = any(k in ds for k in ("SOPClassUID", "SeriesInstanceUID", "Modality"))
        if not (identified or "MediaStorageSOPClassUID" in ds.file_meta):
            raise NotDicomError("not a DICOM file (no SOP class, series or modality)", path)
        damaged = None
        if present and length is None and tail != _SEQUENCE_DELIMITER:
            damaged = "encapsulated pixel data do not end with a sequence delimiter (file truncated?)"
        return _header_from_dataset(path, ds, offset, length, present, size, damaged)
    except (NotDicomError, UnreadableFileError):
        raise
    except Exception as exc:  # a value pydicom cannot even hand over: the header is damaged
        raise UnreadableFileError(f"damaged DICOM header ({type(exc).__name__}: {exc})", path) from None


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
    pydicom's validated types costs more than parsing the whole header, and a series has many files.
    Numbers go through a `TagReader`, which records each bad value as a named problem."""

    def __init__(self, ds, path: str) -> None:
        self.ds = ds
        self.big_endian = str(ds.file_meta.get("TransferSyntaxUID", "")) == "1.2.840.10008.1.2.2"
        charset = ds.get("SpecificCharacterSet", "") if 0x00080005 in ds else ""
        self.latin1 = (charset if isinstance(charset, str) else "\\".join(charset)).strip() in _LATIN1_SETS
        self.reader = TagReader(path)

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
        try:
            value = self.ds.get(keyword)
        except Exception:  # a value pydicom cannot convert: hand its text to the parser, which names it
            return [_raw_text(self.ds, keyword)]
        if value is None or value == "":
            return []
        return list(value) if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue" else [value]

    def get(self, keyword: str, default=None):
        """The single value of an attribute, or a list when it has several; ``default`` when absent/empty."""
        values = self.values(keyword)
        if not values:
            return default
        return values[0] if len(values) == 1 else values

    def text(self, keyword: str) -> str:
        values = self.values(keyword)
        return "\\".join(str(v) for v in values) if values else ""

    def number(self, keyword: str, default=None, kind=float, **limits):
        """A parsed number (see `TagReader.number`); bad values are recorded, ``default`` returned."""
        return self.reader.number(keyword, self.values(keyword), kind=kind, default=default, **limits)


def _pixel_format(f: _Fields, ts: str, image_type: tuple[str, ...], ds, offset: int | None, length: int | None,
                  size: int, damaged: str | None) -> PixelFormat | None:
    """The pixel storage, each declared size checked against what is stored (None: not describable)."""
    rows = f.number("Rows", 0, int, minimum=1, maximum=MAX_IMAGE_DIMENSION)
    cols = f.number("Columns", 0, int, minimum=1, maximum=MAX_IMAGE_DIMENSION)
    n_frames = f.number("NumberOfFrames", 1, int, minimum=1, maximum=MAX_FRAMES)
    bits = f.number("BitsAllocated", 16, int)
    if bits not in BITS_ALLOCATED:
        f.reader.problem("BitsAllocated", bits, f"is not one of {', '.join(map(str, BITS_ALLOCATED))}")
        bits = 16
    stored = f.number("BitsStored", bits, int, minimum=1, maximum=bits)
    representation = f.number("PixelRepresentation", 0, int, minimum=0, maximum=1)
    samples = f.number("SamplesPerPixel", 1, int, minimum=1, maximum=4)
    if not (rows and cols):
        return None
    tiles = _mosaic_tiles(ds, image_type)
    native = ts in NATIVE_LE
    fmt = PixelFormat(
        transfer_syntax=ts, bits_allocated=bits, bits_stored=stored, pixel_representation=representation,
        samples=samples, frame_rows=rows, frame_cols=cols, n_frames=n_frames,
        offset=offset if native else None, length=length if native else None,
        tiles_per_row=int(np.ceil(np.sqrt(tiles))) if tiles else 1, damaged=damaged)
    if offset is not None and length is not None:  # native data of any byte order: the stored size is known
        expected = fmt.expected_bytes
        size_text = f"Rows {rows} x Columns {cols} x {n_frames} frame(s) x {samples * bits} bits"
        if length < expected:
            fmt = replace(fmt, damaged=f"truncated pixel data: {length} bytes stored, {expected} expected "
                                       f"({size_text})")
        elif offset + expected > size:
            fmt = replace(fmt, damaged=f"truncated pixel data: file ends {offset + expected - size} bytes early "
                                       f"({size_text} need {expected} bytes)")
    return fmt


def _rescale(r: TagReader, slope_raw, intercept_raw) -> tuple[float, float]:
    slope = r.number("RescaleSlope", slope_raw, default=None)
    if slope == 0:
        r.problem("RescaleSlope", slope_raw, "is 0: every pixel would have the same value")
        slope = None
    intercept = r.number("RescaleIntercept", intercept_raw, default=None)
    return (1.0 if slope is None else slope), (0.0 if intercept is None else intercept)


def _header_from_dataset(path: str, ds, offset: int | None, length: int | None, present: bool, size: int,
                         damaged: str | None) -> FileHeader:
    f = _Fields(ds, path)
    r = f.reader
    ts = str(ds.file_meta.get("TransferSyntaxUID", ""))
    image_type = tuple(str(v).upper() for v in f.values("ImageType") or [])
    pixels = _pixel_format(f, ts, image_type, ds, offset, length, size, damaged) if present else None
    localizer = "LOCALIZER" in image_type
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    instance = f.number("InstanceNumber", None, int, fatal=False)
    thickness = f.number("SliceThickness", None, minimum=0, exclusive_minimum=True, fatal=False)
    between = f.number("SpacingBetweenSlices", None, minimum=0, exclusive_minimum=True, fatal=False)
    rows, cols = (pixels.frame_rows, pixels.frame_cols) if pixels else (0, 0)
    slices: list[SliceRef] = []
    rescale_absent = False
    if pixels is None:
        pass
    elif per_frame is not None:
        shared = (ds.get("SharedFunctionalGroupsSequence") or [None])[0]
        for index, item in enumerate(per_frame):
            def get(keyword, item=item):
                value = _first(item, keyword)
                return value if value is not None or shared is None else _first(shared, keyword)
            frame_type = tuple(str(v).upper() for v in (get("FrameType") or []))
            slope_raw, intercept_raw = get("RescaleSlope"), get("RescaleIntercept")
            rescale_absent |= slope_raw is None or intercept_raw is None
            slope, intercept = _rescale(r, slope_raw, intercept_raw)
            position = r.vector("ImagePositionPatient", get("ImagePositionPatient"), 3)
            slices.append(SliceRef(
                path=path, frame=index, tile=None, position=position,
                orientation=r.orientation("ImageOrientationPatient", get("ImageOrientationPatient")), rows=rows,
                cols=cols, pixel_spacing=r.vector("PixelSpacing", get("PixelSpacing"), 2, positive=True),
                thickness=r.number("SliceThickness", get("SliceThickness"), minimum=0, exclusive_minimum=True,
                                   fatal=False) or thickness,
                slope=slope, intercept=intercept, localizer=localizer or "LOCALIZER" in frame_type,
                instance=instance, spacing_between=between))
    else:
        slope_raw, intercept_raw = f.values("RescaleSlope"), f.values("RescaleIntercept")
        rescale_absent = not slope_raw or not intercept_raw
        slope, intercept = _rescale(r, slope_raw, intercept_raw)
        position = r.vector("ImagePositionPatient", f.values("ImagePositionPatient"), 3)
        orientation = r.orientation("ImageOrientationPatient", f.values("ImageOrientationPatient"))
        spacing = r.vector("PixelSpacing", f.values("PixelSpacing"), 2, positive=True)
        if pixels.tiles_per_row > 1:
            slices.extend(_mosaic_slices(path, ds, pixels, position, orientation, spacing, thickness, between,
                                         slope, intercept, instance))
        else:
            for index in range(pixels.n_frames):
                slices.append(SliceRef(
                    path=path, frame=index if pixels.n_frames > 1 else None, tile=None, position=position,
                    orientation=orientation, rows=rows, cols=cols, pixel_spacing=spacing, thickness=thickness,
                    slope=slope, intercept=intercept, localizer=localizer, instance=instance,
                    spacing_between=between))
    series_number = f.number("SeriesNumber", None, int, fatal=False)
    uid = f.text("SeriesInstanceUID")
    study_uid = f.text("StudyInstanceUID")
    modality = f.text("Modality").upper()
    description = f.text("SeriesDescription")
    # without a UID, files of one folder with the same modality, number, description and matrix are one series
    key = uid or "|".join(str(v) for v in (Path(path).parent, modality, series_number, rows, cols, description,
                                            study_uid))
    return FileHeader(
        path=path, series_uid=uid, group_key=key, study_uid=study_uid, modality=modality, description=description,
        contrast_agent=f.text("ContrastBolusAgent").strip(),
        patient_position=f.text("PatientPosition"), patient_id=f.text("PatientID"),
        series_number=series_number,
        sop_class=f.text("SOPClassUID") or str(ds.file_meta.get("MediaStorageSOPClassUID", "")),
        image_type=image_type, pixels=pixels, slices=tuple(slices), sop_uid=f.text("SOPInstanceUID"),
        problems=tuple(r.problems), rescale_absent=bool(slices) and rescale_absent)


def _mosaic_slices(path: str, ds, pixels: PixelFormat, ipp, iop, spacing, thickness, between, slope, intercept,
                   instance) -> list[SliceRef]:
    """Siemens mosaic: tiles laid out row by row; ImagePositionPatient refers to the whole frame's
    corner, so each tile's position is shifted to the tile's own corner, then stepped along the normal."""
    n_tiles = _mosaic_tiles(ds, ("MOSAIC",))
    per_row = pixels.tiles_per_row
    rows, cols = pixels.frame_rows // per_row, pixels.frame_cols // per_row
    step = between or thickness
    out = []
    for t in range(n_tiles):
        position = None
        if iop and ipp and spacing and step:
            row_dir, col_dir = np.asarray(iop[:3]), np.asarray(iop[3:])
            corner = (np.asarray(ipp) + row_dir * spacing[1] * (pixels.frame_cols - cols) / 2
                      + col_dir * spacing[0] * (pixels.frame_rows - rows) / 2)
            position = tuple(float(v) for v in corner + np.cross(row_dir, col_dir) * float(step) * t)
        out.append(SliceRef(path=path, frame=None, tile=t, position=position, orientation=iop, rows=rows, cols=cols,
                            pixel_spacing=spacing, thickness=thickness, slope=slope, intercept=intercept,
                            localizer=False, instance=instance, spacing_between=between))
    return out


# -- finding files -----------------------------------------------------------------------------------
def dicomdir_files(path: str | os.PathLike) -> list[str]:
    """Image files referenced by a DICOMDIR (paths resolved relative to its folder)."""
    try:
        ds = pydicom.dcmread(path)
        records = list(ds.get("DirectoryRecordSequence", []))
    except Exception as exc:  # pydicom raises many types for a damaged DICOMDIR
        raise UnreadableFileError(f"damaged DICOMDIR ({type(exc).__name__}: {exc})", path) from None
    root = Path(path).parent
    out = []
    for record in records:
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
    return walk_files(root)[0]


def read_headers(paths: Iterable[str]) -> tuple[list[FileHeader], list[Unreadable]]:
    """Headers of the DICOM files among ``paths``, and the others with the reason (files that are simply
    not DICOM are marked not ``notable``)."""
    headers, skipped = [], []
    for p in paths:
        try:
            header = read_header(p)
        except NotDicomError as exc:
            log.debug("skipping %s", exc)
            skipped.append(Unreadable(p, str(exc).removeprefix(f"{p}: "), notable=False))
            continue
        except UnreadableFileError as exc:
            log.warning("%s", exc)
            skipped.append(Unreadable(p, str(exc).removeprefix(f"{p}: ")))
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


def shared_position_order(slices: Sequence[SliceRef]) -> tuple[list[SliceRef], str] | None:
    """When every slice of a stack has the same ImagePositionPatient (some exports write one position for
    all), the slices with positions rebuilt from InstanceNumber and SpacingBetweenSlices (else SliceThickness),
    and the warning that says so; None when the positions differ. Raises SeriesError when the slices cannot
    be ordered that way either (no InstanceNumber, no spacing, spacings that disagree)."""
    from ivcplan.errors import SeriesError

    if len(slices) < 2 or any(s.position is None or s.orientation is None for s in slices):
        return None
    positions = np.array([s.position for s in slices], float)
    if float(np.ptp(positions, axis=0).max()) > SAME_POSITION_TOLERANCE_MM:
        return None
    n = len(slices)
    what = f"all {n} slices have the same ImagePositionPatient"
    missing = next((s for s in slices if s.instance is None), None)
    if missing is not None:
        raise SeriesError(f"{what} and this one has no usable InstanceNumber: the slices cannot be ordered",
                          missing.path)
    spacing, source = None, ""
    for attribute, values in (("SpacingBetweenSlices", [s.spacing_between for s in slices]),
                              ("SliceThickness", [s.thickness for s in slices])):
        given = [v for v in values if v is not None]
        if not given:
            continue
        if max(given) - min(given) > SAME_POSITION_TOLERANCE_MM:
            odd = next(s for s, v in zip(slices, values, strict=True) if v is not None and v != given[0])
            raise SeriesError(f"{what}, and their {attribute} differs ({given[0]:g} and {max(given, key=abs):g} mm):"
                              " the slice spacing is unknown", odd.path)
        spacing, source = float(given[0]), attribute
        break
    if spacing is None:
        raise SeriesError(f"{what} and neither SpacingBetweenSlices nor SliceThickness gives their spacing: "
                          "the slices cannot be placed", slices[0].path)
    normal = np.cross(slices[0].orientation[:3], slices[0].orientation[3:])
    first = min(s.instance for s in slices)
    placed = [replace(s, position=tuple(float(v) for v in positions[0] + (s.instance - first) * spacing * normal))
              for s in slices]
    axis = int(np.argmax(np.abs(normal)))
    towards = (("towards the patient's right", "towards the patient's left"), ("anteriorly", "posteriorly"),
               ("towards the feet", "towards the head"))[axis][int(normal[axis] > 0)]
    return placed, (f"{what}: ordered by InstanceNumber, {spacing:.3g} mm apart from {source}; positions are not "
                    f"real (InstanceNumber taken to grow along the slice normal, {towards})")


def _header_notes(headers: Sequence[FileHeader], modality: str) -> list[str]:
    """Problems of the series' headers for `ivcplan info`: the first bad value (fatal ones first), damaged
    pixel data, absent rescale of a CT."""
    out = []
    problems = sorted((p for h in headers for p in h.problems), key=lambda p: not p.fatal)
    if problems:
        first = problems[0]
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        prefix = BAD_HEADER if first.fatal else "header note"
        out.append(f"{prefix}: {Path(first.path).name}: {first.message}{more}")
    damaged = [h for h in headers if h.pixels is not None and h.pixels.damaged and h.pixels.offset is not None]
    if damaged:
        more = f" (+{len(damaged) - 1} more)" if len(damaged) > 1 else ""
        out.append(f"damaged: {Path(damaged[0].path).name}: {damaged[0].pixels.damaged}{more}")
    absent = [h for h in headers if h.rescale_absent]
    if absent and modality == "CT":
        out.append(f"RescaleSlope/RescaleIntercept absent in {len(absent)} file(s): stored values taken as HU")
    return out


def describe(headers: Sequence[FileHeader], number: int) -> SeriesInfo:
    from ivcplan.errors import SeriesError

    first = headers[0]
    slices, notes = stack_slices(headers)
    problems = list(notes) + _header_notes(headers, first.modality)
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
        try:
            shared = shared_position_order(slices)
        except SeriesError as exc:
            problems.append(f"{CANNOT_ORDER}: {exc}")
            shared = None
        if shared is not None:
            slices = shared[0]
            problems.append(f"all {len(slices)} slices share one ImagePositionPatient: ordered by InstanceNumber")
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


BAD_HEADER = "bad header value"
CANNOT_ORDER = "cannot order the slices"
_FATAL = ("no image data", "single slice", "inconsistent rows/columns", "no ImagePositionPatient", BAD_HEADER,
          CANNOT_ORDER)


def usable(info: SeriesInfo) -> bool:
    return not any(p.startswith(_FATAL) for p in info.problems)


def _rank(s: SeriesInfo):
    return (s.orientation != "axial", -s.n_slices, s.thickness if s.thickness else np.inf, s.contrast is not True)


def choose(series: Sequence[SeriesInfo]) -> list[SeriesInfo]:
    """Mark the series a planner wants: CT, axial, most slices, thinnest, contrast-enhanced. The chosen
    series' ``reason`` says why it won and why each other series was not taken; every other series'
    ``reason`` says why it was not."""
    candidates = [s for s in series if s.modality == "CT" and usable(s)]
    if not candidates:
        return [replace(s, reason=_why_not(s, None)) for s in series]
    best = min(candidates, key=_rank)
    others = [s for s in series if s is not best]
    reason = _reason(best, candidates)
    if others:
        reason += "; not analysed: " + "; ".join(f"series {s.number} ({_why_not(s, best)})" for s in others)
    return [replace(s, chosen=True, reason=reason) if s is best else replace(s, reason=_why_not(s, best))
            for s in series]


def _why_not(s: SeriesInfo, best: SeriesInfo | None) -> str:
    """Why series ``s`` is not the one analysed (``best``: the chosen series, None when none qualifies)."""
    label = f"{s.modality or 'no modality'}" + (f" '{s.description}'" if s.description else "")
    if s.modality != "CT":
        return f"{label}: not CT"
    if not usable(s):
        return f"{label}: {next(p for p in s.problems if p.startswith(_FATAL))}"
    if best is None:
        return label
    if s.orientation != best.orientation and best.orientation == "axial":
        return f"{label}: {s.orientation}, not axial"
    if s.n_slices != best.n_slices:
        return f"{label}: {s.n_slices} slices, fewer"
    if s.thickness != best.thickness:
        return f"{label}: {s.thickness:g} mm thick, thicker" if s.thickness else f"{label}: slice thickness unknown"
    if s.contrast is not True and best.contrast is True:
        return f"{label}: not known to be contrast-enhanced"
    return f"{label}: ranked after series {best.number} (same plane, slices, thickness and contrast)"


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
