"""Import external segmentations onto a CT grid through physical (LPS) coordinates.

``load_labels(path, reference, kind="auto") -> ImportedLabels`` reads

* ``totalseg`` / ``totalseg_v2`` / ``totalseg_v1``: a TotalSegmentator multilabel NIfTI (v2 or v1
  class ids; ``totalseg`` = auto-detect, v2 when ambiguous) or a folder of per-class masks
  (``liver.nii.gz``, ``inferior_vena_cava.nii.gz``, ...);
* ``ivcplan``: a NIfTI labelmap written by ivcplan (``segmentation.nii.gz``: its header says
  ``ivcplan.labels/1``), in `ivcplan.labels.Label` values;
* ``nifti``: a NIfTI labelmap with a label table beside it: ``<stem>.json`` (``{"1": "liver"}`` or
  ``{"labels": {...}}``) or a ``<stem>.txt`` / ``.ctbl`` ITK-SNAP / Slicer color table;
* ``seg_nrrd``: a 3D Slicer ``.seg.nrrd`` (segment names and label values from the header,
  layered 4D files included);
* ``dicom_seg``: a DICOM Segmentation object (read with highdicom).

Names are mapped onto `ivcplan.labels.Label` (`NAME_TO_LABEL`); names that map to nothing are
listed in ``ImportedLabels.ignored`` (and logged), never silently dropped; a file from which
nothing maps raises `InputError` naming the file and the unknown names. Resampling is nearest
neighbour; the input file is never modified.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ivcplan.errors import InputError
from ivcplan.labels import Label
from ivcplan.volume import IVCPLAN_LABELS_DESCRIP, Grid, Labelmap, Volume

log = logging.getLogger(__name__)

KINDS = ("auto", "ivcplan", "totalseg", "totalseg_v1", "totalseg_v2", "nifti", "seg_nrrd", "dicom_seg")

#: TotalSegmentator v2 "total" task ids that ivcplan uses (others are reported as ignored).
TOTALSEG_V2_IDS: dict[int, str] = {
    1: "spleen", 2: "kidney_right", 3: "kidney_left", 4: "gallbladder", 5: "liver", 6: "stomach",
    7: "pancreas", 8: "adrenal_gland_right", 9: "adrenal_gland_left", 25: "sacrum",
    **{26 + i: f"vertebrae_{n}" for i, n in enumerate(
        ["S1", "L5", "L4", "L3", "L2", "L1"] + [f"T{k}" for k in range(12, 0, -1)]
        + [f"C{k}" for k in range(7, 0, -1)])},
    51: "heart", 52: "aorta", 62: "superior_vena_cava", 63: "inferior_vena_cava",
    64: "portal_vein_and_splenic_vein", 65: "iliac_artery_left", 66: "iliac_artery_right",
    67: "iliac_vena_left", 68: "iliac_vena_right",
}
#: TotalSegmentator v1 (104 classes) ids that differ from v2.
TOTALSEG_V1_IDS: dict[int, str] = {
    1: "spleen", 2: "kidney_right", 3: "kidney_left", 4: "gallbladder", 5: "liver", 6: "stomach",
    7: "aorta", 8: "inferior_vena_cava", 9: "portal_vein_and_splenic_vein", 10: "pancreas",
    11: "adrenal_gland_right", 12: "adrenal_gland_left",
    **{18 + i: f"vertebrae_{n}" for i, n in enumerate(
        ["L5", "L4", "L3", "L2", "L1"] + [f"T{k}" for k in range(12, 0, -1)] + [f"C{k}" for k in range(7, 0, -1)])},
    44: "heart_myocardium", 45: "heart_atrium_left", 46: "heart_ventricle_left", 47: "heart_atrium_right",
    48: "heart_ventricle_right", 51: "iliac_artery_left", 52: "iliac_artery_right", 53: "iliac_vena_left",
    54: "iliac_vena_right", 92: "sacrum",
}
#: Highest class id of TotalSegmentator v1.
_V1_MAX_ID = 104

#: External structure names -> ivcplan labels (case-insensitive; every Label key also maps to itself).
NAME_TO_LABEL: dict[str, Label] = {
    "inferior_vena_cava": Label.IVC_LUMEN, "ivc": Label.IVC_LUMEN, "vena_cava_inferior": Label.IVC_LUMEN,
    "liver": Label.LIVER, "aorta": Label.AORTA,
    "kidney_right": Label.KIDNEY_RIGHT, "right_kidney": Label.KIDNEY_RIGHT,
    "kidney_left": Label.KIDNEY_LEFT, "left_kidney": Label.KIDNEY_LEFT,
    "portal_vein_and_splenic_vein": Label.PORTAL_VEIN, "portal_vein": Label.PORTAL_VEIN,
    "heart": Label.RIGHT_ATRIUM, "heart_atrium_right": Label.RIGHT_ATRIUM,
    "iliac_vena_right": Label.ILIAC_VEIN_RIGHT, "iliac_vena_left": Label.ILIAC_VEIN_LEFT,
    "tumor": Label.IVC_TUMOR, "ivc_tumour": Label.IVC_TUMOR, "thrombus": Label.IVC_THROMBUS,
    "sacrum": Label.SPINE, "vertebrae": Label.SPINE, "body_trunc": Label.BODY,
    **{lab.key: lab for lab in Label if lab is not Label.BACKGROUND},
}
_VERTEBRA = re.compile(r"^vertebrae?_([cstl]\d+)$")


@dataclass(frozen=True)
class ImportedLabels:
    """An external segmentation on the reference grid; ``ignored`` lists names that map to no Label."""

    labelmap: Labelmap
    imported: tuple[Label, ...]
    source: str
    ignored: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


#: Below this share of the labelled volume inside the CT, the import carries a warning (the rest is cut off).
MIN_INSIDE_FRACTION = 0.5
#: Organs and vessels are soft tissue; if more than this share of the imported voxels lies on air
#: (below AIR_BELOW_HU) the segmentation does not belong to this CT (another patient, a flipped axis).
MAX_ON_AIR_FRACTION = 0.2
AIR_BELOW_HU = -500.0


def _extent(grid: Grid, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """LPS bounding box (min, max corners, mm) of ``grid`` or of the voxels of ``mask`` on it."""
    if mask is None:
        lo, hi = np.zeros(3), np.asarray(grid.shape, float) - 1
    else:
        idx = np.argwhere(mask)
        lo, hi = idx.min(axis=0).astype(float), idx.max(axis=0).astype(float)
    corners = np.array([[(hi if (k >> a) & 1 else lo)[a] for a in range(3)] for k in range(8)])
    lps = grid.index_to_lps(corners)
    return lps.min(axis=0), lps.max(axis=0)


def _check_fit(path: Path, grid: Grid, source_mask: np.ndarray, out: np.ndarray, reference: Volume) -> list[str]:
    """Refuse labels that miss the CT (naming how far apart they are) or lie on air; warn when most of
    the labelled volume is outside the CT. Returns the warnings."""
    if not source_mask.any():
        raise InputError("the segmentation holds no labelled voxel", path)
    source_ml = np.count_nonzero(source_mask) * grid.voxel_volume_mm3 / 1000.0
    inside = out > 0
    inside_ml = np.count_nonzero(inside) * reference.grid.voxel_volume_mm3 / 1000.0
    if inside_ml == 0:
        (a0, a1), (b0, b1) = _extent(grid, source_mask), _extent(reference.grid)
        gap = float(np.linalg.norm(np.maximum(0.0, np.maximum(a0 - b1, b0 - a1))))
        centres = float(np.linalg.norm((a0 + a1) / 2 - (b0 + b1) / 2))
        span = "; ".join(f"{n} {lo:.0f}..{hi:.0f}" for n, lo, hi in zip("xyz", a0, a1, strict=True))
        ct = "; ".join(f"{n} {lo:.0f}..{hi:.0f}" for n, lo, hi in zip("xyz", b0, b1, strict=True))
        raise InputError(f"no labelled voxel lies inside the CT: the labels ({span} mm, LPS) are {gap:.0f} mm from "
                         f"the CT's field of view ({ct} mm), centres {centres:.0f} mm apart; is this segmentation "
                         "of another scan or patient?", path)
    values = reference.array[inside & (out != int(Label.BODY))]
    on_air = float(np.mean(values < AIR_BELOW_HU)) if values.size else 0.0
    if on_air > MAX_ON_AIR_FRACTION:
        raise InputError(f"{100 * on_air:.0f} % of the imported organ and vessel voxels lie on air (below "
                         f"{AIR_BELOW_HU:g} HU) in this CT: the segmentation does not fit it (another patient, or a "
                         "flipped axis?)", path)
    warnings = []
    if source_ml > 0 and inside_ml / source_ml < MIN_INSIDE_FRACTION:
        warnings.append(f"only {100 * inside_ml / source_ml:.0f} % of the labelled volume of {path} lies inside the "
                        "CT; the rest was cut off")
    return warnings


def label_for_name(name: str) -> Label | None:
    """ivcplan label for an external structure name, or None when it has none."""
    key = re.sub(r"[\s\-]+", "_", name.strip().lower())
    key = key.removesuffix(".nii.gz").removesuffix(".nii")
    if key in NAME_TO_LABEL:
        return NAME_TO_LABEL[key]
    if _VERTEBRA.match(key):
        return Label.SPINE
    return None


def load_labels(path: str | os.PathLike, reference: Volume, *, kind: str = "auto") -> ImportedLabels:
    """External segmentation at ``path`` resampled (nearest) onto ``reference.grid``."""
    src = Path(path)
    if kind not in KINDS:
        raise InputError(f"unknown segmentation kind {kind!r}; use one of {', '.join(KINDS)}", "kind")
    if not src.exists():
        raise InputError("segmentation file or folder does not exist", src)
    if kind == "auto":
        kind = _detect_kind(src)
    if src.is_dir():
        if kind not in ("totalseg", "totalseg_v1", "totalseg_v2"):
            raise InputError(f"a folder can only be a TotalSegmentator per-class output, not {kind!r}", src)
        return _from_folder(src, reference)
    if kind.startswith("totalseg"):
        return _from_totalseg_nifti(src, reference, kind)
    if kind == "ivcplan":
        grid, array = _read_nifti(src)
        table = {int(lab): lab.key for lab in Label if lab is not Label.BACKGROUND}
        return _assemble(src, reference, grid, array, table, "ivcplan labelmap")
    if kind == "nifti":
        grid, array = _read_nifti(src)
        return _assemble(src, reference, grid, array, _read_table(src), "nifti labelmap")
    if kind == "seg_nrrd":
        return _from_seg_nrrd(src, reference)
    return _from_dicom_seg(src, reference)


# ---------------------------------------------------------------------------------------------
def _is_nifti(path: Path) -> bool:
    return path.name.lower().endswith((".nii", ".nii.gz"))


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".nii.gz", ".nii", ".seg.nrrd", ".nrrd"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _table_candidates(path: Path) -> list[Path]:
    stem = _stem(path)
    return [path.with_name(stem + ext) for ext in (".json", ".txt", ".ctbl", "_labels.txt", ".label.txt")]


def label_kind(path: str | os.PathLike) -> str:
    """The kind of a segmentation file or folder (``totalseg``, ``seg_nrrd``, ``ivcplan``, ``nifti``,
    ``dicom_seg``) from its name and header only; `InputError` naming it when it is none of them."""
    path = Path(path)
    try:
        return _detect_kind(path)
    except OSError as exc:
        raise InputError(f"cannot be read ({exc.strerror or exc})", path) from None


def _detect_kind(path: Path) -> str:
    if path.is_dir():
        return "totalseg"
    name = path.name.lower()
    if name.endswith(".nrrd"):
        return "seg_nrrd"
    if _is_nifti(path):
        if _nifti_description(path).startswith(IVCPLAN_LABELS_DESCRIP):
            return "ivcplan"
        return "nifti" if any(p.is_file() for p in _table_candidates(path)) else "totalseg"
    with open(path, "rb") as fh:
        head = fh.read(132)
    if len(head) == 132 and head[128:132] == b"DICM":
        return "dicom_seg"
    raise InputError("not a recognised segmentation (NIfTI, .seg.nrrd, DICOM SEG or a folder of masks)", path)


def _nifti_description(path: Path) -> str:
    """The header's ``descrip`` field ("" when unreadable: the full read then reports the problem)."""
    from ivcplan.io.formats import nibabel_quiet

    try:
        raw = nibabel_quiet().load(str(path)).header["descrip"]
    except Exception:  # nibabel raises many types for corrupt files
        return ""
    return bytes(np.asarray(raw).item()).decode("ascii", "replace").strip("\x00 ")


def _read_nifti(path: Path) -> tuple[Grid, np.ndarray]:
    from ivcplan.io.formats import nibabel_quiet

    try:
        image = nibabel_quiet().load(str(path))
        vol = Volume.from_nifti(image)
    except Exception as exc:  # nibabel raises many types for corrupt files
        raise InputError(f"cannot read NIfTI segmentation: {exc}", path) from exc
    array = np.asarray(vol.array)
    if not np.issubdtype(array.dtype, np.integer):
        if not np.allclose(array, np.round(array)):
            raise InputError("segmentation has non-integer values (is this a CT image, not a labelmap?)", path)
        array = np.round(array).astype(np.int32)
    return vol.grid, array


def _resample(grid: Grid, array: np.ndarray, reference: Volume) -> np.ndarray:
    small = array.astype(np.int16 if array.max(initial=0) < 32767 else np.int32, copy=False)
    return Labelmap(small, grid).resample_to(reference.grid).array


def _assemble(path: Path, reference: Volume, grid: Grid, array: np.ndarray, table: Mapping[int, str],
              what: str) -> ImportedLabels:
    """Map ``array`` (source ids) through ``table`` (id -> name) and resample to the reference grid."""
    present = [int(v) for v in np.unique(array) if v != 0]
    lut = np.zeros(max(present, default=0) + 1, dtype=np.uint8)
    ignored: list[str] = []
    imported: set[Label] = set()
    for value in present:
        name = table.get(value)
        label = label_for_name(name) if name else None
        if label is None:
            ignored.append(name or f"label {value} (not in the label table)")
            continue
        lut[value] = int(label)
        imported.add(label)
    if not imported:
        raise InputError(f"no structure of this {what} maps onto an ivcplan label; unknown: "
                         f"{', '.join(ignored) or 'none (the segmentation is empty)'}", path)
    if ignored:
        log.warning("%s: ignored structures without an ivcplan label: %s", path, ", ".join(ignored))
    mapped = lut[np.clip(array, 0, len(lut) - 1)]
    out = _resample(grid, mapped, reference).astype(np.uint8)
    warnings = _check_fit(path, grid, mapped > 0, out, reference)
    kept = tuple(sorted(lab for lab in imported if np.any(out == int(lab))))
    return ImportedLabels(Labelmap(out, reference.grid), kept, f"{what}: {path}", tuple(ignored), tuple(warnings))


def _from_totalseg_nifti(path: Path, reference: Volume, kind: str) -> ImportedLabels:
    grid, array = _read_nifti(path)
    if kind == "totalseg":
        ids = set(int(v) for v in np.unique(array)) - {0}
        # v1 has no id above 104; v2's IVC (63) and aorta (52) coexist, v1's 52 is an iliac artery.
        v1 = bool(ids) and max(ids) <= _V1_MAX_ID and {7, 8} <= ids and not {52, 63} <= ids
        kind = "totalseg_v1" if v1 else "totalseg_v2"
    table = TOTALSEG_V1_IDS if kind == "totalseg_v1" else TOTALSEG_V2_IDS
    other = {v: f"totalsegmentator id {v}" for v in range(1, 256) if v not in table}
    return _assemble(path, reference, grid, array, {**other, **table}, f"TotalSegmentator {kind[-2:]}")


def _from_folder(folder: Path, reference: Volume) -> ImportedLabels:
    files = sorted(p for p in folder.iterdir() if p.is_file() and _is_nifti(p))
    if not files:
        raise InputError("folder holds no NIfTI masks (expected TotalSegmentator per-class files)", folder)
    out = np.zeros(reference.shape, np.uint8)
    imported: set[Label] = set()
    ignored: list[str] = []
    source: tuple[Grid, np.ndarray] | None = None  # the masks' union, for the fit check
    for f in files:
        label = label_for_name(_stem(f))
        if label is None:
            ignored.append(_stem(f))
            continue
        grid, array = _read_nifti(f)
        if source is None:
            source = (grid, array > 0)
        elif source[0].is_same(grid):  # TotalSegmentator's masks share one grid
            source = (grid, source[1] | (array > 0))
        mask = _resample(grid, (array > 0).astype(np.uint8), reference) > 0
        if mask.any():
            out[mask] = int(label)
            imported.add(label)
    if len(ignored) == len(files):
        raise InputError(f"no mask in this folder maps onto an ivcplan label; unknown: {', '.join(ignored)}", folder)
    if ignored:
        log.warning("%s: ignored masks without an ivcplan label: %s", folder, ", ".join(ignored))
    warnings = _check_fit(folder, source[0], source[1], out, reference) if source is not None else []
    return ImportedLabels(Labelmap(out, reference.grid), tuple(sorted(imported)),
                          f"TotalSegmentator masks: {folder}", tuple(ignored), tuple(warnings))


def _is_int(text: object) -> bool:
    try:
        int(str(text))
    except ValueError:
        return False
    return True


def _read_table(path: Path) -> dict[int, str]:
    for cand in _table_candidates(path):
        if not cand.is_file():
            continue
        text = cand.read_text(encoding="utf-8", errors="replace")
        if cand.suffix == ".json":
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise InputError(f"label table is not valid JSON: {exc}", cand) from exc
            if isinstance(data, dict) and "labels" not in data and not all(_is_int(k) for k in data):
                # a sidecar about something else (e.g. a phantom's truth.json without a table): not ours
                log.debug("%s holds no label table; ignored", cand)
                continue
            data = data.get("labels", data) if isinstance(data, dict) else data
            try:
                if isinstance(data, list):  # [{"value": 1, "name": "liver"}, ...]
                    return {int(d["value"]): str(d["name"]) for d in data}
                return {int(k): str(v if not isinstance(v, dict) else v.get("name", "")) for k, v in data.items()}
            except (KeyError, TypeError, ValueError) as exc:
                raise InputError(f"label table entries must map integer values to names ({exc})", cand) from exc
        table: dict[int, str] = {}
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            quoted = re.search(r'"([^"]*)"', line)
            parts = line.split()
            try:
                value = int(parts[0])
            except ValueError:
                continue
            if quoted:  # ITK-SNAP: IDX R G B A VIS MSH "Label"
                table[value] = quoted.group(1)
            elif len(parts) >= 2:  # Slicer color table: value name r g b a
                table[value] = parts[1]
        if not table:
            raise InputError("label table has no entries (expected 'value name r g b a' lines)", cand)
        return table
    raise InputError("NIfTI labelmap has no label table beside it (<name>.json or <name>.txt)", path)


def _from_seg_nrrd(path: Path, reference: Volume) -> ImportedLabels:
    import nrrd

    try:
        data, header = nrrd.read(str(path))
    except Exception as exc:  # pynrrd raises NRRDError and others
        raise InputError(f"cannot read NRRD: {exc}", path) from exc
    space = str(header.get("space", "left-posterior-superior")).lower()
    dirs = np.asarray(header.get("space directions"), dtype=float)
    origin = np.asarray(header.get("space origin", [0.0, 0.0, 0.0]), dtype=float)
    if data.ndim == 4:  # layers first, its "space directions" row is "none" (NaN)
        keep = [i for i in range(4) if np.all(np.isfinite(dirs[i]))]
        layer_axis = next(i for i in range(4) if i not in keep)
        data = np.moveaxis(data, layer_axis, 0)
        dirs = dirs[keep]
    elif data.ndim == 3:
        data = data[None]
    else:
        raise InputError(f"segmentation must be 3D or 4D, got {data.ndim}D", path)
    if space in ("right-anterior-superior", "ras"):
        flip = np.array([-1.0, -1.0, 1.0])
        dirs, origin = dirs * flip, origin * flip
    elif space not in ("left-posterior-superior", "lps"):
        raise InputError(f"unsupported NRRD space {space!r}", path)
    # NRRD axes (i, j, k) = (x, y, z): array (z, y, x) uses the reversed axes.
    affine = np.eye(4)
    affine[:3, :3] = dirs[::-1].T
    affine[:3, 3] = origin
    grid = Grid.from_affine(data.shape[1:][::-1], affine)
    segments: dict[int, tuple[int, int, str]] = {}
    for key, value in header.items():
        m = re.match(r"Segment(\d+)_Name$", key)
        if m:
            i = int(m.group(1))
            segments[i] = (int(header.get(f"Segment{i}_Layer", 0)), int(header.get(f"Segment{i}_LabelValue", 1)),
                           str(value))
    if not segments:
        raise InputError("no Segment<N>_Name entries in the NRRD header: not a 3D Slicer .seg.nrrd", path)
    # Re-encode every (layer, value) pair as one id so overlapping layers become one labelmap.
    ids = np.zeros(data.shape[1:][::-1], np.int32)
    table: dict[int, str] = {}
    for i, (layer, value, name) in sorted(segments.items()):
        ids[np.transpose(data[layer], (2, 1, 0)) == value] = i + 1
        table[i + 1] = name
    return _assemble(path, reference, grid, ids, table, "3D Slicer segmentation")


def _from_dicom_seg(path: Path, reference: Volume) -> ImportedLabels:
    import highdicom as hd

    try:
        seg = hd.seg.segread(str(path))
    except Exception as exc:  # pydicom/highdicom raise many types
        raise InputError(f"cannot read DICOM SEG: {exc}", path) from exc
    try:
        vol = seg.get_volume(combine_segments=True, skip_overlap_checks=True)
    except Exception as exc:
        raise InputError(f"DICOM SEG frames do not form a regular volume: {exc}", path) from exc
    table = {int(d.segment_number): str(d.segment_label) for d in seg.SegmentSequence}
    # highdicom's volume axes (i, j, k) map through an LPS affine (axis 0 = slices).
    grid = Grid.from_affine(vol.spatial_shape, np.asarray(vol.affine, dtype=float))
    return _assemble(path, reference, grid, np.asarray(vol.array).astype(np.int32), table, "DICOM SEG")
