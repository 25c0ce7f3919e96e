"""Per-structure surface meshes from a labelmap, in LPS patient millimetres.

One extraction serves the 3D scene and the mesh export: discrete flying edges on each label's
binary mask (cropped to its bounding box), windowed-sinc smoothing (no shrinkage), quadric
decimation, outward normals. The surface of a solid mask is closed (watertight).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ivcplan.labels import Label
from ivcplan.render._vtk import image_data, polydata_points, set_points
from ivcplan.volume import Labelmap

log = logging.getLogger(__name__)

#: Windowed-sinc smoothing: pass band and iterations (low pass band = smoother; 0.1 keeps vessels round).
SMOOTH_PASSBAND = 0.03
SMOOTH_ITERATIONS = 25
#: Fraction of triangles removed by decimation (volume-preserving quadric decimation).
DECIMATE_REDUCTION = 0.5
#: Structures smaller than this many voxels are noise, not anatomy: no surface.
MIN_VOXELS = 8
#: Not meshed by default (scene, export): the body outline hides everything and is large.
DEFAULT_EXCLUDED: tuple[int, ...] = (int(Label.BODY),)
#: Padding (voxels) around a structure's bounding box so its surface closes inside the crop.
_PAD = 2


@dataclass(frozen=True)
class Surface:
    """A closed triangle surface of one label in LPS mm (``polydata`` has point normals)."""

    label: int
    name: str
    color: tuple[int, int, int]
    polydata: object  # vtkPolyData
    voxels: int

    @property
    def points(self) -> np.ndarray:
        return polydata_points(self.polydata)


def label_surface(labelmap: Labelmap, label: int, *, smooth: bool = True, decimate: float = DECIMATE_REDUCTION,
                  bbox: tuple[slice, ...] | None = None) -> Surface | None:
    """Closed surface of ``label`` (None when the label has fewer than MIN_VOXELS voxels)."""
    from vtkmodules.vtkFiltersCore import vtkPolyDataNormals, vtkQuadricDecimation, vtkWindowedSincPolyDataFilter
    from vtkmodules.vtkFiltersGeneral import vtkDiscreteFlyingEdges3D

    arr = labelmap.array
    if bbox is None:
        found = ndimage.find_objects((arr == label).astype(np.uint8))
        if not found or found[0] is None:
            return None
        bbox = found[0]
    start = np.array([max(sl.start - _PAD, 0) for sl in bbox])
    stop = np.array([min(sl.stop + _PAD, n) for sl, n in zip(bbox, arr.shape, strict=True)])
    crop = arr[tuple(slice(a, b) for a, b in zip(start, stop, strict=True))] == label
    voxels = int(np.count_nonzero(crop))
    if voxels < MIN_VOXELS:
        return None
    # Pad with background where the crop touches the grid border so the surface closes.
    before = start - (np.array([sl.start for sl in bbox]) - _PAD)
    after = (np.array([sl.stop for sl in bbox]) + _PAD) - stop
    crop = np.pad(crop, list(zip(before, after, strict=True))).astype(np.uint8)
    start = start - before

    contour = vtkDiscreteFlyingEdges3D()
    contour.SetInputData(image_data(crop, origin_xyz=tuple(float(v) for v in start[::-1])))
    contour.SetValue(0, 1)
    contour.ComputeNormalsOff()
    contour.ComputeGradientsOff()
    contour.ComputeScalarsOff()
    port = contour.GetOutputPort()
    keep = []  # VTK filters must outlive the pipeline run
    if smooth:
        smoother = vtkWindowedSincPolyDataFilter()
        smoother.SetInputConnection(port)
        smoother.SetNumberOfIterations(SMOOTH_ITERATIONS)
        smoother.SetPassBand(SMOOTH_PASSBAND)
        smoother.BoundarySmoothingOff()
        smoother.FeatureEdgeSmoothingOff()
        smoother.NonManifoldSmoothingOn()
        smoother.NormalizeCoordinatesOn()
        port = smoother.GetOutputPort()
        keep.append(smoother)
    if decimate > 0:
        decimator = vtkQuadricDecimation()
        decimator.SetInputConnection(port)
        decimator.SetTargetReduction(float(decimate))
        decimator.VolumePreservationOn()
        port = decimator.GetOutputPort()
        keep.append(decimator)
    last = keep[-1] if keep else contour
    last.Update()
    poly = last.GetOutput()
    # Index space (x, y, z) -> LPS mm through the grid's one mapping, then outward normals in LPS
    # (computed after the mapping so a left-handed grid cannot turn the surface inside out).
    set_points(poly, labelmap.grid.index_to_lps(polydata_points(poly)[:, ::-1]))
    normals = vtkPolyDataNormals()
    normals.SetInputData(poly)
    normals.ConsistencyOn()
    normals.AutoOrientNormalsOn()
    normals.SplittingOff()
    normals.ComputeCellNormalsOff()
    normals.Update()
    out = normals.GetOutput()
    return Surface(int(label), labelmap.name(label), labelmap.color(label), out, voxels)


def extract_surfaces(labelmap: Labelmap, labels: Iterable[int] | None = None, *, smooth: bool = True,
                     decimate: float = DECIMATE_REDUCTION) -> list[Surface]:
    """Surfaces of ``labels`` (default: every label present) in increasing label order."""
    arr = labelmap.array
    top = int(arr.max()) if arr.size else 0
    if top <= 0:
        return []
    boxes = ndimage.find_objects(arr.astype(np.int32, copy=False), max_label=top)
    wanted = sorted({int(v) for v in labels}) if labels is not None else list(range(1, top + 1))
    out = []
    for value in wanted:
        if value < 1 or value > top or boxes[value - 1] is None:
            continue
        surf = label_surface(labelmap, value, smooth=smooth, decimate=decimate, bbox=boxes[value - 1])
        if surf is not None:
            out.append(surf)
    log.debug("extracted %d surfaces", len(out))
    return out


# The last default_surfaces result, so the scene views and the mesh export of one analysis share
# one extraction (labelmaps are immutable; identity is the key).
_last: tuple[Labelmap, list[Surface]] | None = None


def default_surfaces(labelmap: Labelmap) -> list[Surface]:
    """Surfaces of every structure present but `DEFAULT_EXCLUDED` (memoised for the last labelmap)."""
    global _last
    if _last is None or _last[0] is not labelmap:
        _last = (labelmap, extract_surfaces(labelmap, [v for v in labelmap.present() if v not in DEFAULT_EXCLUDED]))
    return list(_last[1])
