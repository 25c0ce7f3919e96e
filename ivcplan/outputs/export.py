"""File formats other tools read the segmentation in: meshes (STL, OBJ, GLB) and DICOM SEG (highdicom).

The NIfTI labelmap is `ivcplan.io.save_nifti` (the ``segmentation`` output kind).

Meshes are in LPS patient millimetres, so they superimpose on the CT in any DICOM-aware tool; the
GLB adds one root transform to glTF's convention (Y up, metres) so web viewers show the patient
upright and facing the viewer. File names are built from label keys passed through
`safe_filename`; nothing from DICOM tags reaches a path unsanitised.
"""

from __future__ import annotations

import json
import logging
import re
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ivcplan.errors import InputError
from ivcplan.labels import Label
from ivcplan.volume import Labelmap, values_present

if TYPE_CHECKING:
    from pydicom.sr.coding import Code

log = logging.getLogger(__name__)

MESH_FORMATS = ("stl", "obj", "glb")
#: Longest file name stem produced by `safe_filename`.
MAX_FILENAME = 64
#: A source slice and a labelmap slice coincide when their positions differ by less than this (mm).
SLICE_MATCH_TOLERANCE_MM = 0.01

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(text: object, *, default: str = "unnamed", max_length: int = MAX_FILENAME) -> str:
    """A file-name stem made of ``[A-Za-z0-9._-]`` only: no separators, no leading dot, bounded length.

    Any run of other characters (spaces, slashes, DICOM ``^``, non-ASCII, control characters)
    becomes one ``_``. Empty or all-unsafe input gives ``default``.
    """
    cleaned = _UNSAFE.sub("_", str(text)).strip("._-")
    cleaned = re.sub(r"\.{2,}", ".", cleaned)[:max_length].rstrip("._-")
    return cleaned or default


# -- meshes ----------------------------------------------------------------------------------------
def _write_stl(poly, path: Path) -> None:
    from vtkmodules.vtkIOGeometry import vtkSTLWriter

    writer = vtkSTLWriter()
    writer.SetFileName(str(path))
    writer.SetInputData(poly)
    writer.SetFileTypeToBinary()
    if not writer.Write():
        raise OSError(f"{path}: could not write STL")


def _write_obj(surface, path: Path) -> None:
    from ivcplan.render._vtk import polydata_triangles

    pts = surface.points
    tris = polydata_triangles(surface.polydata) + 1
    normals = _normals(surface.polydata)
    r, g, b = (c / 255.0 for c in surface.color)
    mtl = path.with_suffix(".mtl")
    mtl.write_text(f"newmtl {surface.name}\nKd {r:.4f} {g:.4f} {b:.4f}\nKa 0 0 0\nd 1.0\n")
    with path.open("w") as fh:
        fh.write(f"# ivcplan mesh: {surface.name} (label {surface.label}), LPS patient coordinates in mm\n")
        fh.write(f"mtllib {mtl.name}\no {surface.name}\nusemtl {surface.name}\n")
        _write_rows(fh, pts, "v %.4f %.4f %.4f")
        _write_rows(fh, normals, "vn %.5f %.5f %.5f")
        _write_rows(fh, np.repeat(tris, 2, axis=1), "f %d//%d %d//%d %d//%d")


def _write_rows(fh, rows: np.ndarray, fmt: str) -> None:
    """What ``np.savetxt(fh, rows, fmt=fmt)`` writes, formatted in one operation instead of row by row
    (savetxt's per-row loop was most of the OBJ files' time)."""
    if len(rows):
        fh.write((fmt + "\n") * len(rows) % tuple(np.asarray(rows).ravel().tolist()))


def _normals(poly) -> np.ndarray:
    from vtkmodules.util.numpy_support import vtk_to_numpy

    arr = poly.GetPointData().GetNormals()
    return vtk_to_numpy(arr).astype(np.float32)


# glTF root transform: LPS mm -> glTF (X = patient left, Y = superior, Z = anterior) in metres.
_LPS_TO_GLTF = np.array([[1.0, 0, 0, 0], [0, 0, 1.0, 0], [0, -1.0, 0, 0], [0, 0, 0, 1.0]]) * np.array(
    [[0.001], [0.001], [0.001], [1.0]])


def _write_glb(surfaces: Sequence, path: Path, opacity: Mapping[int, float]) -> None:
    """One binary glTF 2.0 file, one node per structure under a root node holding _LPS_TO_GLTF.

    Opaque structures come first: viewers that draw in node order then blend the see-through ones
    (the liver) over what lies inside them."""
    from ivcplan.render._vtk import polydata_triangles

    blob = bytearray()
    views, accessors, meshes, materials, nodes = [], [], [], [], []
    surfaces = sorted(surfaces, key=lambda surf: float(opacity.get(surf.label, 1.0)) < 1.0)  # stable: label order kept

    def add_view(data: bytes, target: int) -> int:
        while len(blob) % 4:
            blob.append(0)
        views.append({"buffer": 0, "byteOffset": len(blob), "byteLength": len(data), "target": target})
        blob.extend(data)
        return len(views) - 1

    for surf in surfaces:
        pts = surf.points.astype(np.float32)
        nrm = _normals(surf.polydata)
        tris = polydata_triangles(surf.polydata).astype(np.uint32)
        pos_acc = len(accessors)
        accessors.append({"bufferView": add_view(pts.tobytes(), 34962), "componentType": 5126,
                          "count": len(pts), "type": "VEC3", "min": pts.min(axis=0).tolist(),
                          "max": pts.max(axis=0).tolist()})
        accessors.append({"bufferView": add_view(nrm.tobytes(), 34962), "componentType": 5126,
                          "count": len(nrm), "type": "VEC3"})
        accessors.append({"bufferView": add_view(tris.tobytes(), 34963), "componentType": 5125,
                          "count": int(tris.size), "type": "SCALAR"})
        alpha = float(opacity.get(surf.label, 1.0))
        # Named by the label key, blended when see-through (the liver: the IVC and tumor show inside it).
        material = {"name": surf.name, "doubleSided": False, "alphaMode": "BLEND" if alpha < 1.0 else "OPAQUE",
                    "pbrMetallicRoughness": {"baseColorFactor": [c / 255.0 for c in surf.color] + [alpha],
                                             "metallicFactor": 0.0, "roughnessFactor": 0.6}}
        materials.append(material)
        meshes.append({"name": surf.name, "primitives": [{
            "attributes": {"POSITION": pos_acc, "NORMAL": pos_acc + 1}, "indices": pos_acc + 2,
            "material": len(materials) - 1, "mode": 4}]})
        nodes.append({"name": surf.name, "mesh": len(meshes) - 1, "extras": {"label": int(surf.label)}})
    root = {"name": "patient_LPS_mm", "children": list(range(len(nodes))),
            "matrix": _LPS_TO_GLTF.T.reshape(-1).tolist()}  # glTF matrices are column-major
    nodes.append(root)
    while len(blob) % 4:
        blob.append(0)
    doc = {"asset": {"version": "2.0", "generator": "ivcplan"}, "scene": 0,
           "scenes": [{"nodes": [len(nodes) - 1]}], "nodes": nodes, "meshes": meshes, "materials": materials,
           "accessors": accessors, "bufferViews": views, "buffers": [{"byteLength": len(blob)}]}
    text = json.dumps(doc, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 4)
    total = 12 + 8 + len(text) + 8 + len(blob)
    with path.open("wb") as fh:
        fh.write(struct.pack("<4sII", b"glTF", 2, total))
        fh.write(struct.pack("<I4s", len(text), b"JSON"))
        fh.write(text)
        fh.write(struct.pack("<I4s", len(blob), b"BIN\x00"))
        fh.write(bytes(blob))


def write_meshes(labelmap: Labelmap, outdir: str | Path, formats: Iterable[str] = MESH_FORMATS, *,
                 labels: Iterable[int] | None = None, surfaces: Sequence | None = None,
                 opacity: Mapping[int, float] | None = None) -> dict[str, Path]:
    """Write one smoothed, decimated, closed mesh per structure in LPS mm.

    STL and OBJ: one file per structure, ``<value>_<key>.<ext>``; GLB: one ``anatomy.glb`` with a
    node per structure. Returns ``{"<key>.<ext>" or "anatomy.glb": path}``. ``surfaces`` reuses
    meshes already extracted by `ivcplan.render.mesh.extract_surfaces`.
    """
    from ivcplan.render.mesh import default_surfaces, extract_surfaces
    from ivcplan.render.scene import DEFAULT_OPACITY

    formats = tuple(str(f).lower().lstrip(".") for f in formats)
    unknown = sorted(set(formats) - set(MESH_FORMATS))
    if unknown:
        raise InputError(f"formats: unknown mesh format(s) {unknown}; use some of {list(MESH_FORMATS)}")
    if surfaces is None:
        surfaces = default_surfaces(labelmap) if labels is None else extract_surfaces(labelmap, list(labels))
    if not surfaces:
        raise InputError(f"labelmap: no structure to export as a mesh (labels present: {labelmap.present() or 'none'})")
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for surf in surfaces:
        stem = f"{surf.label:02d}_{safe_filename(surf.name)}"
        if "stl" in formats:
            _write_stl(surf.polydata, outdir / f"{stem}.stl")
            written[f"{surf.name}.stl"] = outdir / f"{stem}.stl"
        if "obj" in formats:
            _write_obj(surf, outdir / f"{stem}.obj")
            written[f"{surf.name}.obj"] = outdir / f"{stem}.obj"
    if "glb" in formats:
        _write_glb(surfaces, outdir / "anatomy.glb", {**DEFAULT_OPACITY, **dict(opacity or {})})
        written["anatomy.glb"] = outdir / "anatomy.glb"
    log.info("wrote %d mesh files to %s", len(written), outdir)
    return written


# -- DICOM SEG ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SegmentCodes:
    """What a segment is, coded as DICOM SEG and Slicer's terminology want it (SNOMED CT through pydicom's
    DICOM code dictionary, PS3.16): category, type, and the laterality of a paired organ as the type's
    modifier (Segmented Property Type Modifier Code Sequence inside the type's item, PS3.3 C.8.20.2;
    CID 244 laterality: SCT 24028007 Right, 7771000 Left)."""

    category: Code
    type: Code
    modifier: Code | None = None


def segment_codes(label: int) -> SegmentCodes:
    """The codes of ``label``; an unknown value is generic tissue."""
    from pydicom.sr.codedict import codes  # about a second to import: only when a SEG or .seg.nrrd is written

    sct = codes.SCT
    anatomy, abnormal = sct.AnatomicalStructure, sct.MorphologicallyAbnormalStructure
    table = {
        Label.IVC_LUMEN: SegmentCodes(anatomy, sct.InferiorVenaCava),
        Label.IVC_TUMOR: SegmentCodes(abnormal, sct.Neoplasm),
        Label.IVC_THROMBUS: SegmentCodes(abnormal, sct.Thrombus),
        Label.AORTA: SegmentCodes(anatomy, sct.Aorta),
        Label.LIVER: SegmentCodes(anatomy, sct.Liver),
        Label.KIDNEY_RIGHT: SegmentCodes(anatomy, sct.Kidney, sct.Right),
        Label.KIDNEY_LEFT: SegmentCodes(anatomy, sct.Kidney, sct.Left),
        Label.RENAL_VEIN_RIGHT: SegmentCodes(anatomy, sct.RenalVein, sct.Right),
        Label.RENAL_VEIN_LEFT: SegmentCodes(anatomy, sct.RenalVein, sct.Left),
        # The three hepatic veins have their own SNOMED CT concepts (272998002, 273099000, 273202007).
        Label.HEPATIC_VEIN_RIGHT: SegmentCodes(anatomy, sct.RightHepaticVein),
        Label.HEPATIC_VEIN_MIDDLE: SegmentCodes(anatomy, sct.MiddleHepaticVein),
        Label.HEPATIC_VEIN_LEFT: SegmentCodes(anatomy, sct.LeftHepaticVein),
        Label.RIGHT_ATRIUM: SegmentCodes(anatomy, sct.RightAtrium),
        Label.PORTAL_VEIN: SegmentCodes(anatomy, sct.PortalVein),
        Label.SPINE: SegmentCodes(anatomy, sct.Spine),
        Label.BODY: SegmentCodes(anatomy, sct.EntireBody),
        Label.ILIAC_VEIN_RIGHT: SegmentCodes(anatomy, sct.CommonIliacVein, sct.Right),
        Label.ILIAC_VEIN_LEFT: SegmentCodes(anatomy, sct.CommonIliacVein, sct.Left),
    }
    try:
        return table[Label(label)]
    except (KeyError, ValueError):
        return SegmentCodes(sct.Tissue, sct.Tissue)


def segment_description(number: int, value: int, name: str, color: tuple[int, int, int], algorithm):
    """highdicom SegmentDescription of label ``value``, laterality put into the type's item."""
    import highdicom as hd

    coded = segment_codes(value)
    desc = hd.seg.SegmentDescription(
        segment_number=number, segment_label=name, segmented_property_category=coded.category,
        segmented_property_type=coded.type, algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=algorithm, tracking_uid=hd.UID(), tracking_id=str(value),
        display_color=hd.color.CIELabColor.from_rgb(*color))
    if coded.modifier is not None:
        # highdicom has no argument for it: the modifier is nested in the type's item, not the segment's.
        desc.SegmentedPropertyTypeCodeSequence[0].SegmentedPropertyTypeModifierCodeSequence = [
            hd.sr.CodedConcept(coded.modifier.value, coded.modifier.scheme_designator, coded.modifier.meaning)]
    return desc


def _frames_for_sources(labelmap: Labelmap, datasets: Sequence) -> np.ndarray:
    """(n_sources, rows, cols) label frames sampled on each source image's pixel grid.

    A source plane that coincides with a labelmap slice (the usual case: the labelmap is on the
    CT grid) is copied; any other plane is sampled nearest-neighbour through LPS coordinates.
    """
    from scipy import ndimage

    grid = labelmap.grid
    frames = []
    for ds in datasets:
        rows, cols = int(ds.Rows), int(ds.Columns)
        iop = np.asarray(ds.ImageOrientationPatient, dtype=float)
        ipp = np.asarray(ds.ImagePositionPatient, dtype=float)
        dr, dc = (float(v) for v in ds.PixelSpacing)  # row spacing, column spacing
        row_dir, col_dir = iop[:3], iop[3:]
        idx0 = grid.lps_to_index(ipp)
        same = (grid.shape[1:] == (rows, cols) and np.allclose(grid.direction[:, 2], row_dir, atol=1e-4)
                and np.allclose(grid.direction[:, 1], col_dir, atol=1e-4)
                and np.allclose(grid.spacing[1:], (dr, dc), atol=1e-4)
                and np.allclose(idx0[1:], 0.0, atol=1e-3))
        k = int(np.rint(idx0[0]))
        if same and 0 <= k < grid.shape[0] and abs(idx0[0] - k) * grid.spacing[0] < SLICE_MATCH_TOLERANCE_MM:
            frames.append(labelmap.array[k])
            continue
        r, c = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
        lps = ipp + r[..., None] * dr * col_dir + c[..., None] * dc * row_dir
        idx = grid.lps_to_index(lps.reshape(-1, 3))
        # Voxels extend half a spacing beyond their centres: sample up to there, zero beyond.
        values = ndimage.map_coordinates(labelmap.array, idx.T, order=0, mode="nearest")
        values[~grid.contains_index(idx)] = 0
        frames.append(values.reshape(rows, cols))
    return np.stack(frames)


#: Type 2 attributes (present, may be empty) of the patient and study modules that the SEG copies from its
#: source images; anonymised and synthetic series often leave them out entirely.
TYPE2_SOURCE_ATTRIBUTES = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
                           "StudyID", "AccessionNumber", "ReferringPhysicianName")


def _with_type2(ds):
    """``ds`` (a header read for the SEG) with every absent type 2 patient/study attribute set empty.
    The source file is not touched: this is an in-memory copy's attribute."""
    for keyword in TYPE2_SOURCE_ATTRIBUTES:
        if keyword not in ds:
            setattr(ds, keyword, "")
    return ds


def write_dicom_seg(labelmap: Labelmap, source_files: Sequence[str | Path], path: str | Path, *,
                    series_description: str = "ivcplan segmentation", series_number: int = 901,
                    labels: Iterable[int] | None = None, segmentation_type: str = "binary") -> Path:
    """DICOM Segmentation of the labelmap referencing the CT series in ``source_files``.

    One segment per structure present (segment label = label key, tracking id = label value),
    colors from `ivcplan.labels`. ``source_files`` are `Volume.meta["source_files"]`.
    ``segmentation_type``: "binary" (one frame per segment and slice; read by every SEG-aware
    viewer) or "labelmap" (one frame per slice, DICOM's newer label-map SEG; about 3x faster to
    write for a full abdomen, larger file).
    """
    import highdicom as hd
    import pydicom
    from pydicom.sr.codedict import codes

    from ivcplan import __version__

    seg_types = {"binary": hd.seg.SegmentationTypeValues.BINARY, "labelmap": hd.seg.SegmentationTypeValues.LABELMAP}
    if segmentation_type not in seg_types:
        raise InputError(f"segmentation_type must be one of {sorted(seg_types)}, got {segmentation_type!r}")
    files = [Path(f) for f in source_files or ()]
    if not files:
        raise InputError("source_files: empty; a DICOM SEG must reference the source CT series "
                         "(Volume.meta['source_files'] of a volume loaded from DICOM)")
    datasets = []
    for f in files:
        try:
            datasets.append(_with_type2(pydicom.dcmread(f, stop_before_pixels=True)))
        except (OSError, pydicom.errors.InvalidDicomError) as exc:
            raise InputError(f"cannot read source DICOM file: {exc}", f) from exc
    frames = _frames_for_sources(labelmap, datasets)
    present = [v for v in values_present(frames) if v != 0]
    if labels is not None:
        present = [v for v in present if v in {int(x) for x in labels}]
    if not present:
        raise InputError("labelmap: no labelled voxel lies on the source images; nothing to store in a DICOM SEG")
    lut = np.zeros(max(int(frames.max()), max(present)) + 1, dtype=np.uint8)
    for number, value in enumerate(present, start=1):
        lut[value] = number
    pixel = lut[frames]
    algorithm = hd.AlgorithmIdentificationSequence(name="ivcplan", family=codes.DCM.ImageProcessing,
                                                   version=__version__)
    descriptions = [segment_description(number, value, labelmap.name(value), labelmap.color(value), algorithm)
                    for number, value in enumerate(present, start=1)]
    seg = hd.seg.Segmentation(
        source_images=datasets, pixel_array=pixel, segmentation_type=seg_types[segmentation_type],
        segment_descriptions=descriptions, series_instance_uid=hd.UID(), series_number=int(series_number),
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer="ivcplan", manufacturer_model_name="ivcplan",
        software_versions=__version__, device_serial_number="0", series_description=series_description[:64],
        content_label="IVCPLAN", content_description="ivcplan automatic segmentation")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    seg.save_as(path)
    log.info("wrote DICOM SEG with %d segments to %s", len(present), path)
    return path


def read_dicom_seg(path: str | Path, source_files: Sequence[str | Path], reference: Labelmap) -> Labelmap:
    """Read a DICOM SEG written by `write_dicom_seg` back onto ``reference``'s grid.

    The source images must be slices of that grid (the CT the labelmap was made on).
    """
    import highdicom as hd
    import pydicom

    seg = hd.seg.segread(str(path))
    datasets = [pydicom.dcmread(f, stop_before_pixels=True) for f in source_files]
    uids = [str(ds.SOPInstanceUID) for ds in datasets]
    stack = seg.get_pixels_by_source_instance(uids, combine_segments=True, relabel=False,
                                              assert_missing_frames_are_empty=True)
    lut = np.zeros(max(seg.get_segment_numbers()) + 1, dtype=np.int32)
    for number in seg.get_segment_numbers():
        lut[number] = int(seg.get_segment_description(number).tracking_id)
    values = lut[stack]
    out = np.zeros(reference.grid.shape, dtype=reference.array.dtype)
    for ds, frame in zip(datasets, values, strict=True):
        iop = np.asarray(ds.ImageOrientationPatient, dtype=float)
        aligned = (np.allclose(iop[:3], reference.grid.direction[:, 2], atol=1e-4)
                   and np.allclose(iop[3:], reference.grid.direction[:, 1], atol=1e-4))
        if not aligned or frame.shape != reference.grid.shape[1:]:
            raise InputError(f"source image {ds.SOPInstanceUID} is not a slice of the reference grid", path)
        k = int(np.rint(reference.grid.lps_to_index(np.asarray(ds.ImagePositionPatient, dtype=float))[0]))
        if not 0 <= k < reference.grid.shape[0]:
            raise InputError(f"source image {ds.SOPInstanceUID} lies outside the reference grid", path)
        out[k] = frame
    return reference.with_array(out)
