"""The segmentation with its label names and colours, in the files 3D Slicer and ITK-SNAP read.

* ``segmentation.ctbl``: a 3D Slicer colour table (``# Color table file`` header, then one
  ``value name r g b a`` line per label, colours 0-255; Slicer's Colors module documents it). Load it
  in Slicer and choose it as the NIfTI's colour node, or let ivcplan's own importer read it.
* ``segmentation_labels.txt``: an ITK-SNAP label description file (``IDX R G B A VIS MSH "LABEL"``,
  alpha 0-1); ITK-SNAP's Segmentation > Import Label Descriptions reads it.
* ``segmentation.seg.nrrd``: a 3D Slicer segmentation (Slicer's Segmentations module documents the
  fields): one 3D labelmap layer in LPS, one ``Segment<N>_*`` block per structure present with its
  name, colour (0-1), label value, layer, extent (IJK bounding box) and a DICOM terminology tag
  carrying the same codes as the DICOM SEG, laterality included.

The label table is the labelmap's (`ivcplan.labels` by default); names have no spaces (Slicer's
colour table separates fields by spaces).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from scipy import ndimage

from ivcplan.errors import InputError
from ivcplan.outputs.export import segment_codes
from ivcplan.volume import Labelmap

#: Sidecar names beside ``<stem>.nii.gz`` (`ivcplan.io.load_labels` looks for both).
SLICER_TABLE_SUFFIX = ".ctbl"
ITKSNAP_TABLE_SUFFIX = "_labels.txt"
#: Slicer's terminology context names: the tag says which code lists the codes come from.
_TERMINOLOGY_CONTEXT = "Segmentation category and type - DICOM master list"
_ANATOMIC_CONTEXT = "Anatomic codes - DICOM master list"

Table = Mapping[int, tuple[str, tuple[int, int, int]]]


def _entries(table: Table) -> list[tuple[int, str, tuple[int, int, int]]]:
    return [(int(v), name.replace(" ", "_"), color) for v, (name, color) in sorted(table.items()) if int(v) != 0]


def slicer_color_table(table: Table, title: str = "ivcplan labels") -> str:
    """3D Slicer colour table text: background first (transparent), then one line per label."""
    rows = _entries(table)
    lines = [f"# Color table file {title}", f"# {len(rows) + 1} values", "0 background 0 0 0 0"]
    lines += [f"{v} {name} {r} {g} {b} 255" for v, name, (r, g, b) in rows]
    return "\n".join(lines) + "\n"


def itksnap_label_description(table: Table) -> str:
    """ITK-SNAP label description text (its own header, ``Clear Label`` 0, then one line per label)."""
    head = ["################################################",
            "# ITK-SnAP Label Description File",
            "# File format:",
            "# IDX   -R-  -G-  -B-  -A--  VIS MSH  LABEL",
            "# Fields:",
            "#    IDX:   Zero-based index",
            "#    -R-:   Red color component (0..255)",
            "#    -G-:   Green color component (0..255)",
            "#    -B-:   Blue color component (0..255)",
            "#    -A-:   Label transparency (0.00 .. 1.00)",
            "#    VIS:   Label visibility (0 or 1)",
            "#    MSH:   Label mesh visibility (0 or 1)",
            "#  LABEL:   Label description",
            "################################################",
            '    0     0    0    0        0  0  0    "Clear Label"']
    rows = [f'{v:5d} {r:5d} {g:4d} {b:4d}        1  1  1    "{name}"' for v, name, (r, g, b) in _entries(table)]
    return "\n".join(head + rows) + "\n"


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".nii.gz", ".nii"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def write_label_sidecars(labelmap: Labelmap, nifti_path: str | Path) -> tuple[Path, Path]:
    """``<stem>.ctbl`` (Slicer) and ``<stem>_labels.txt`` (ITK-SNAP) beside the NIfTI labelmap."""
    nifti_path = Path(nifti_path)
    stem = _stem(nifti_path)
    slicer = nifti_path.with_name(stem + SLICER_TABLE_SUFFIX)
    snap = nifti_path.with_name(stem + ITKSNAP_TABLE_SUFFIX)
    slicer.write_text(slicer_color_table(labelmap.table), encoding="utf-8")
    snap.write_text(itksnap_label_description(labelmap.table), encoding="utf-8")
    return slicer, snap


def _code(code) -> str:
    return f"{code.scheme_designator}^{code.value}^{code.meaning}"


def terminology_tag(value: int) -> str:
    """Slicer's ``TerminologyEntry`` tag: context~category~type~modifier~anatomic context~region~region modifier."""
    coded = segment_codes(value)
    modifier = _code(coded.modifier) if coded.modifier is not None else "^^"
    return (f"TerminologyEntry:{_TERMINOLOGY_CONTEXT}~{_code(coded.category)}~{_code(coded.type)}~{modifier}"
            f"~{_ANATOMIC_CONTEXT}~^^~^^|")


def write_seg_nrrd(labelmap: Labelmap, path: str | Path) -> Path:
    """The labelmap as a 3D Slicer ``.seg.nrrd``: one layer, one named, coloured segment per label present."""
    import nrrd

    grid = labelmap.grid
    array = labelmap.array
    top = int(array.max(initial=0))
    if top > 255 or int(array.min(initial=0)) < 0:
        raise InputError(f"labelmap values must lie in 0..255 for a .seg.nrrd, got {array.min()}..{top}", "labelmap")
    present = labelmap.present()
    boxes = ndimage.find_objects(array.astype(np.uint8, copy=False), max_label=max(top, 1))
    # NRRD axes are (i, j, k) = array axes (x, y, z) = (2, 1, 0): space directions are the grid's
    # direction columns in that order, scaled by the spacing.
    directions = np.stack([grid.direction[:, a] * grid.spacing[a] for a in (2, 1, 0)])
    header: dict[str, object] = {
        "type": "unsigned char", "space": "left-posterior-superior", "space directions": directions,
        "space origin": np.asarray(grid.origin, dtype=float), "kinds": ["domain", "domain", "domain"],
        "encoding": "gzip",
        "Segmentation_MasterRepresentation": "Binary labelmap",  # Slicer < 5.4 reads this name
        "Segmentation_SourceRepresentation": "Binary labelmap",
        "Segmentation_ContainedRepresentationNames": "Binary labelmap|",
        "Segmentation_ReferenceImageExtentOffset": "0 0 0",
    }
    for n, value in enumerate(present):
        box = boxes[value - 1]  # (z, y, x) slices
        extent = " ".join(f"{box[a].start} {box[a].stop - 1}" for a in (2, 1, 0))
        r, g, b = labelmap.color(value)
        name = labelmap.name(value)
        header.update({
            f"Segment{n}_ID": name, f"Segment{n}_Name": name, f"Segment{n}_NameAutoGenerated": "0",
            f"Segment{n}_Color": f"{r / 255:.6g} {g / 255:.6g} {b / 255:.6g}", f"Segment{n}_ColorAutoGenerated": "0",
            f"Segment{n}_LabelValue": str(value), f"Segment{n}_Layer": "0", f"Segment{n}_Extent": extent,
            f"Segment{n}_Tags": terminology_tag(value),
        })
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A transposed view: written in Fortran order its bytes are the C-ordered map, one straight copy.
    nrrd.write(str(path), np.transpose(array.astype(np.uint8, copy=False), (2, 1, 0)),
               header, index_order="F")
    return path
