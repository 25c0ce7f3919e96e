"""Per-structure surface meshes from a labelmap, in LPS patient millimetres.

One extraction serves the 3D scene, the mesh export and the viewer: each label's mask (cropped
to its bounding box, pooled to about CONTOUR_SPACING_MM) is contoured by flying edges at
occupancy 0.5, smoothed by a windowed-sinc filter (no shrinkage), decimated when still large,
and given outward normals. The surface of a solid mask is closed (watertight).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from vtkmodules.util.numpy_support import vtk_to_numpy

from ivcplan.labels import Label
from ivcplan.render._vtk import image_data, polydata_points, set_points
from ivcplan.volume import Labelmap

log = logging.getLogger(__name__)

#: Windowed-sinc smoothing: pass band and iterations (low pass band = smoother; 0.1 keeps vessels round).
SMOOTH_PASSBAND = 0.1
SMOOTH_ITERATIONS = 25
#: Masks are pooled to blocks of about this size before contouring (0.78 mm pixels -> 2x2 blocks).
CONTOUR_SPACING_MM = 1.5
#: Surfaces with more triangles are decimated to this many (volume-preserving quadric decimation).
MAX_TRIANGLES = 60000
#: Structures smaller than this many voxels are noise, not anatomy: no surface.
MIN_VOXELS = 8
#: Disconnected pieces of a structure's surface ("islands": stray voxels of a segmentation, a liver
#: with 41 components) are left out when they enclose less than ISLAND_MIN_SHARE of the largest
#: piece's volume or less than ISLAND_MIN_MM3. A second real piece (a vein cut in two by a tumor,
#: both halves of a kidney split on one slice) is of the same order as the first and stays; a
#: fragment under 2 % of the organ is noise in a picture or a printed model. The floor (50 mm3, a
#: 3.7 mm cube, a few of the 1.5 mm contour blocks) clears specks beside small structures whose 2 %
#: would be a few voxels. The voxels stay in the labelmap and in every measurement.
ISLAND_MIN_SHARE = 0.02
ISLAND_MIN_MM3 = 50.0
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


def _block_mean(mask: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Occupancy (0..1) of ``factors``-sized blocks of a boolean mask (shape a multiple of factors)."""
    f0, f1, f2 = (int(v) for v in factors)
    n0, n1, n2 = (s // f for s, f in zip(mask.shape, factors, strict=True))
    return mask.reshape(n0, f0, n1, f1, n2, f2).mean(axis=(1, 3, 5), dtype=np.float32)


def _without_islands(poly, name: str):
    """``poly`` without its connected pieces that enclose less than the island limits (mm3); logs the drop.

    Runs on the finished surface in LPS mm, so it also clears the zero-volume slivers the contour
    leaves where the pooled occupancy equals the iso-value exactly, not only the segmentation's islands.
    """
    from vtkmodules.vtkFiltersCore import vtkPolyDataConnectivityFilter

    from ivcplan.render._vtk import polydata_triangles

    regions = vtkPolyDataConnectivityFilter()
    regions.SetInputData(poly)
    regions.SetExtractionModeToAllRegions()
    regions.ColorRegionsOn()
    regions.Update()
    count = regions.GetNumberOfExtractedRegions()
    if count <= 1:
        return poly
    out = regions.GetOutput()
    pts = polydata_points(out)
    tris = polydata_triangles(out)
    region_of = vtk_to_numpy(out.GetPointData().GetArray("RegionId")).astype(np.int64)[tris[:, 0]]
    a, b, c = pts[tris[:, 0]], pts[tris[:, 1]], pts[tris[:, 2]]
    signed = np.einsum("ij,ij->i", a, np.cross(b, c)) / 6.0  # divergence theorem, per triangle
    volume = np.abs(np.bincount(region_of, weights=signed, minlength=count))
    limit = max(ISLAND_MIN_SHARE * volume.max(), ISLAND_MIN_MM3)
    keep = np.flatnonzero(volume >= limit)
    if keep.size == count:
        return poly
    dropped = np.delete(volume, keep)
    log.info("%s surface: %d piece(s) under %.0f mm3 left out (%.3f ml in all, largest %.3f ml), %d kept (%.1f ml)",
             name, dropped.size, limit, dropped.sum() / 1000.0, dropped.max() / 1000.0, keep.size,
             volume[keep].sum() / 1000.0)
    kept = vtkPolyDataConnectivityFilter()
    kept.SetInputData(poly)
    kept.SetExtractionModeToSpecifiedRegions()
    for region in keep:
        kept.AddSpecifiedRegion(int(region))
    kept.Update()
    return kept.GetOutput()


def label_surface(labelmap: Labelmap, label: int, *, smooth: bool = True, max_triangles: int = MAX_TRIANGLES,
                  bbox: tuple[slice, ...] | None = None) -> Surface | None:
    """Closed surface of ``label`` without its islands (None when fewer than MIN_VOXELS voxels remain).

    The mask is averaged over blocks of about CONTOUR_SPACING_MM (fine in-plane CT pixels are
    pooled 2x2) and contoured at occupancy 0.5 (flying edges): the partial-volume field puts the
    surface between voxels with sub-voxel accuracy, with a quarter of the triangles of a
    voxel-resolution contour, so no expensive decimation of huge surfaces is needed.
    """
    from vtkmodules.vtkFiltersCore import (
        vtkFlyingEdges3D,
        vtkPolyDataNormals,
        vtkQuadricDecimation,
        vtkWindowedSincPolyDataFilter,
    )

    arr = labelmap.array
    if bbox is None:
        found = ndimage.find_objects((arr == label).astype(np.uint8))
        if not found or found[0] is None:
            return None
        bbox = found[0]
    factors = np.maximum(np.rint(CONTOUR_SPACING_MM / labelmap.grid.spacing), 1).astype(int)
    # Crop [lo, hi) with a background margin of _PAD blocks, extended to whole blocks.
    lo = np.array([sl.start for sl in bbox]) - _PAD * factors
    hi = np.array([sl.stop for sl in bbox]) + _PAD * factors
    hi = lo + np.ceil((hi - lo) / factors).astype(int) * factors
    src_lo = np.maximum(lo, 0)
    src_hi = np.minimum(hi, arr.shape)
    mask = np.zeros(tuple(hi - lo), dtype=bool)
    inner = tuple(slice(a - b, c - b) for a, b, c in zip(src_lo, lo, src_hi, strict=True))
    mask[inner] = arr[tuple(slice(a, c) for a, c in zip(src_lo, src_hi, strict=True))] == label
    voxels = int(np.count_nonzero(mask))
    if voxels < MIN_VOXELS:
        return None
    occupancy = _block_mean(mask, factors) if np.any(factors > 1) else mask.astype(np.float32)
    # Block k covers voxels lo + k*f ... lo + k*f + f - 1: its centre is at lo + k*f + (f - 1)/2.
    origin = lo + (factors - 1) / 2.0
    contour = vtkFlyingEdges3D()
    contour.SetInputData(image_data(occupancy, spacing_xyz=tuple(float(v) for v in factors[::-1]),
                                    origin_xyz=tuple(float(v) for v in origin[::-1])))
    contour.SetValue(0, 0.5)
    contour.ComputeNormalsOff()
    contour.ComputeGradientsOff()
    contour.ComputeScalarsOff()
    contour.Update()
    poly = contour.GetOutput()
    keep = []  # VTK filters must outlive the pipeline run
    if smooth:
        smoother = vtkWindowedSincPolyDataFilter()
        smoother.SetInputData(poly)
        smoother.SetNumberOfIterations(SMOOTH_ITERATIONS)
        smoother.SetPassBand(SMOOTH_PASSBAND)
        smoother.BoundarySmoothingOff()
        smoother.FeatureEdgeSmoothingOff()
        smoother.NonManifoldSmoothingOn()
        smoother.NormalizeCoordinatesOn()
        smoother.Update()
        poly = smoother.GetOutput()
        keep.append(smoother)
    cells = poly.GetNumberOfCells()
    if max_triangles and cells > max_triangles:
        decimator = vtkQuadricDecimation()
        decimator.SetInputData(poly)
        decimator.SetTargetReduction(1.0 - max_triangles / cells)
        decimator.VolumePreservationOn()
        decimator.Update()
        poly = decimator.GetOutput()
        keep.append(decimator)
    # Index space (x, y, z) -> LPS mm through the grid's one mapping, then outward normals in LPS
    # (computed after the mapping so a left-handed grid cannot turn the surface inside out).
    set_points(poly, labelmap.grid.index_to_lps(polydata_points(poly)[:, ::-1]))
    poly = _without_islands(poly, labelmap.name(label))
    normals = vtkPolyDataNormals()
    normals.SetInputData(poly)
    normals.ConsistencyOn()
    normals.AutoOrientNormalsOn()
    normals.SplittingOff()
    normals.ComputeCellNormalsOff()
    normals.Update()
    return Surface(int(label), labelmap.name(label), labelmap.color(label), normals.GetOutput(), voxels)


def extract_surfaces(labelmap: Labelmap, labels: Iterable[int] | None = None, *, smooth: bool = True,
                     max_triangles: int = MAX_TRIANGLES) -> list[Surface]:
    """Surfaces of ``labels`` (default: every label present) in increasing label order."""
    arr = labelmap.array
    top = int(arr.max()) if arr.size else 0
    if top <= 0:
        return []
    boxes = ndimage.find_objects(arr, max_label=top)
    wanted = sorted({int(v) for v in labels}) if labels is not None else list(range(1, top + 1))
    out = []
    for value in wanted:
        if value < 1 or value > top or boxes[value - 1] is None:
            continue
        surf = label_surface(labelmap, value, smooth=smooth, max_triangles=max_triangles, bbox=boxes[value - 1])
        if surf is not None:
            out.append(surf)
    log.debug("extracted %d surfaces", len(out))
    return out


def default_surfaces(labelmap: Labelmap) -> list[Surface]:
    """Surfaces of every structure present but `DEFAULT_EXCLUDED`."""
    return extract_surfaces(labelmap, [v for v in labelmap.present() if v not in DEFAULT_EXCLUDED])
