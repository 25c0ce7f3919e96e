"""Core image types: a validated grid geometry in LPS, a CT `Volume` and a `Labelmap`.

Conventions (used everywhere in ivcplan):

* Arrays are indexed ``(z, y, x)`` = (slice, row, column).
* ``spacing`` is given in the same array-axis order: ``(slice_step, row_step, column_step)`` mm.
* ``direction`` is a 3x3 matrix whose *column* ``a`` is the unit LPS vector of array axis ``a``
  (so column 0 is the slice normal, column 1 the column direction cosine of DICOM
  ImageOrientationPatient's second triplet, column 2 its first triplet).
* ``origin`` is the LPS position (mm) of the centre of voxel ``(0, 0, 0)``.

``lps = origin + direction @ (spacing * index)`` is the one mapping; `Grid.affine` holds it as a
4x4 matrix. RAS appears only at the NIfTI boundary (`Volume.to_nifti` / `Volume.from_nifti`).
All operations return new objects; arrays are never modified in place.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ivcplan.errors import GeometryError

if TYPE_CHECKING:  # heavy imports stay out of module import time
    import nibabel
    import SimpleITK as sitk

#: Two direction matrices / origins / spacings closer than this are the same grid (mm or unitless).
GEOMETRY_TOLERANCE = 1e-4
#: A direction matrix must be orthonormal to within this tolerance.
ORTHONORMAL_TOLERANCE = 1e-3

#: Orientation letters: the anatomical direction an array axis grows towards, as (LPS axis, sign).
ORIENTATION_LETTERS: dict[str, tuple[int, float]] = {
    "L": (0, 1.0), "R": (0, -1.0), "P": (1, 1.0), "A": (1, -1.0), "S": (2, 1.0), "I": (2, -1.0)}

_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])
# Array index (z, y, x) <-> NIfTI/ITK index (i, j, k) = (x, y, z).
_REVERSE = np.array([[0, 0, 1], [0, 1, 0], [1, 0, 0]], dtype=float)


def _as_vector(value: Any, name: str) -> np.ndarray:
    arr = np.asarray(value, dtype=float).reshape(-1)
    if arr.shape != (3,):
        raise GeometryError(f"{name} must have 3 components, got {np.asarray(value).shape}")
    if not np.all(np.isfinite(arr)):
        raise GeometryError(f"{name} must be finite, got {arr.tolist()}")
    return arr


@dataclass(frozen=True)
class Grid:
    """Geometry of a 3D voxel grid: shape, spacing, origin and direction (array-axis order, LPS)."""

    shape: tuple[int, int, int]
    spacing: np.ndarray
    origin: np.ndarray
    direction: np.ndarray

    def __post_init__(self) -> None:
        shape = tuple(int(s) for s in self.shape)
        if len(shape) != 3 or min(shape) < 1:
            raise GeometryError(f"shape must be 3 positive integers, got {self.shape}")
        spacing = _as_vector(self.spacing, "spacing")
        if np.any(spacing <= 0):
            raise GeometryError(f"spacing must be positive, got {spacing.tolist()}")
        origin = _as_vector(self.origin, "origin")
        direction = np.asarray(self.direction, dtype=float)
        if direction.shape != (3, 3) or not np.all(np.isfinite(direction)):
            raise GeometryError(f"direction must be a finite 3x3 matrix, got shape {direction.shape}")
        if not np.allclose(direction.T @ direction, np.eye(3), atol=ORTHONORMAL_TOLERANCE):
            raise GeometryError(f"direction must be orthonormal, got {direction.tolist()}")
        for name, value in (("shape", shape), ("spacing", spacing), ("origin", origin),
                            ("direction", direction)):
            if isinstance(value, np.ndarray):
                value.setflags(write=False)
            object.__setattr__(self, name, value)

    # -- constructors -------------------------------------------------------------------------
    @classmethod
    def from_affine(cls, shape: Sequence[int], affine: np.ndarray) -> Grid:
        """Grid from a 4x4 matrix mapping homogeneous (z, y, x, 1) indices to LPS mm."""
        affine = np.asarray(affine, dtype=float)
        if affine.shape != (4, 4):
            raise GeometryError(f"affine must be 4x4, got {affine.shape}")
        linear = affine[:3, :3]
        spacing = np.linalg.norm(linear, axis=0)
        if np.any(spacing <= 0):
            raise GeometryError("affine has a zero-length axis")
        return cls(tuple(shape), spacing, affine[:3, 3], linear / spacing)

    # -- mapping ---------------------------------------------------------------------------------
    @property
    def affine(self) -> np.ndarray:
        """4x4 matrix mapping homogeneous (z, y, x, 1) array indices to LPS millimetres."""
        out = np.eye(4)
        out[:3, :3] = self.direction * self.spacing[None, :]
        out[:3, 3] = self.origin
        return out

    def index_to_lps(self, index: Any) -> np.ndarray:
        """Map (..., 3) array indices (z, y, x), integer or fractional, to LPS mm."""
        idx = np.asarray(index, dtype=float)
        return idx @ (self.direction * self.spacing[None, :]).T + self.origin

    def lps_to_index(self, points: Any) -> np.ndarray:
        """Map (..., 3) LPS mm points to fractional array indices (z, y, x)."""
        pts = np.asarray(points, dtype=float)
        inv = np.linalg.inv(self.direction * self.spacing[None, :])
        return (pts - self.origin) @ inv.T

    def contains_index(self, index: Any) -> np.ndarray:
        """Whether (..., 3) fractional indices lie inside the grid (voxel centres +- 0.5)."""
        idx = np.asarray(index, dtype=float)
        upper = np.asarray(self.shape, dtype=float) - 0.5
        return np.all((idx >= -0.5) & (idx <= upper), axis=-1)

    # -- properties ------------------------------------------------------------------------------
    @property
    def voxel_volume_mm3(self) -> float:
        return float(np.prod(self.spacing))

    @property
    def slice_normal(self) -> np.ndarray:
        """LPS unit vector of increasing slice index."""
        return self.direction[:, 0].copy()

    @property
    def extent_mm(self) -> np.ndarray:
        """Size of the field of view along each array axis (centre of first to last voxel)."""
        return (np.asarray(self.shape) - 1) * self.spacing

    def axis_of(self, lps_axis: int) -> int:
        """Array axis most closely aligned with the given LPS axis (0=L, 1=P, 2=S)."""
        return int(np.argmax(np.abs(self.direction[lps_axis, :])))

    def reorientation(self, code: str) -> Reorientation:
        """How this grid's arrays read with their axes growing towards ``code`` (e.g. "SPL", "LPS").

        Only permutes and flips array axes (no resampling): every voxel keeps its value and its
        position. An oblique grid is read along the array axes closest to the named ones.
        """
        return Reorientation.of(self, code)

    def is_same(self, other: Grid, tol: float = GEOMETRY_TOLERANCE) -> bool:
        return (
            self.shape == other.shape
            and np.allclose(self.spacing, other.spacing, atol=tol)
            and np.allclose(self.origin, other.origin, atol=tol * max(1.0, float(np.max(self.spacing))))
            and np.allclose(self.direction, other.direction, atol=tol)
        )

    def crop(self, start: Sequence[int], stop: Sequence[int]) -> Grid:
        """Sub-grid covering indices [start, stop) along each axis."""
        start_arr = np.asarray(start, dtype=int)
        stop_arr = np.asarray(stop, dtype=int)
        if np.any(start_arr < 0) or np.any(stop_arr > np.asarray(self.shape)) or np.any(stop_arr <= start_arr):
            raise GeometryError(f"crop [{start_arr.tolist()}, {stop_arr.tolist()}) outside shape {self.shape}")
        return Grid(tuple(stop_arr - start_arr), self.spacing, self.index_to_lps(start_arr), self.direction)

    def describe(self) -> dict[str, Any]:
        return {
            "shape_zyx": list(self.shape),
            "spacing_mm_zyx": [round(float(s), 6) for s in self.spacing],
            "origin_lps_mm": [round(float(o), 4) for o in self.origin],
            "direction": [[round(float(v), 6) for v in row] for row in self.direction],
        }

    # -- SimpleITK / NIfTI geometry ------------------------------------------------------------
    def sitk_geometry(self) -> tuple[tuple[int, ...], tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
        """(size, spacing, origin, direction) in SimpleITK's (x, y, z) conventions (LPS)."""
        size = tuple(int(s) for s in self.shape[::-1])
        spacing = tuple(float(s) for s in self.spacing[::-1])
        origin = tuple(float(o) for o in self.origin)
        direction = tuple(float(v) for v in self.direction[:, ::-1].reshape(-1))
        return size, spacing, origin, direction

    @classmethod
    def from_sitk(cls, image: sitk.Image) -> Grid:
        if image.GetDimension() != 3:
            raise GeometryError(f"image must be 3D, got {image.GetDimension()}D")
        direction = np.asarray(image.GetDirection(), dtype=float).reshape(3, 3)[:, ::-1]
        return cls(tuple(image.GetSize()[::-1]), np.asarray(image.GetSpacing())[::-1],
                   np.asarray(image.GetOrigin()), direction)

    def nifti_affine(self) -> np.ndarray:
        """4x4 NIfTI affine: (i, j, k) = (x, y, z) voxel indices to RAS mm."""
        out = np.eye(4)
        out[:3, :] = (_LPS_TO_RAS @ self.affine[:3, :4])
        perm = np.eye(4)
        perm[:3, :3] = _REVERSE
        return out @ perm

    @classmethod
    def from_nifti_affine(cls, shape_xyz: Sequence[int], affine_ras: np.ndarray) -> Grid:
        perm = np.eye(4)
        perm[:3, :3] = _REVERSE
        lps = np.eye(4)
        lps[:3, :] = _LPS_TO_RAS @ np.asarray(affine_ras, dtype=float)[:3, :4]
        return cls.from_affine(tuple(shape_xyz)[::-1], lps @ perm)


def orientation_direction(code: str) -> np.ndarray:
    """Ideal direction matrix (array-axis columns, LPS) of an orientation code such as "SPL"."""
    letters = _parse_orientation(code)
    out = np.zeros((3, 3))
    for axis, letter in enumerate(letters):
        lps_axis, sign = ORIENTATION_LETTERS[letter]
        out[lps_axis, axis] = sign
    return out


def _parse_orientation(code: str) -> str:
    letters = str(code).upper()
    if (len(letters) != 3 or any(c not in ORIENTATION_LETTERS for c in letters)
            or len({ORIENTATION_LETTERS[c][0] for c in letters}) != 3):
        raise GeometryError(f"orientation code must name each of L/R, P/A, S/I once (e.g. 'SPL'), got {code!r}")
    return letters


@dataclass(frozen=True)
class Reorientation:
    """A grid's arrays read in a named anatomical orientation, and the way back.

    ``axes[k]`` is the source array axis that becomes axis ``k``; ``flips[k]`` says that it runs
    against the letter ``code[k]``. `apply` gives a view (no copy), `restore` maps an array in the
    target order back onto the source grid, and `grid` is the exact target geometry, so positions
    go through ``grid.index_to_lps`` as on any grid.
    """

    code: str
    source: Grid
    axes: tuple[int, int, int]
    flips: tuple[bool, bool, bool]

    @classmethod
    def of(cls, source: Grid, code: str) -> Reorientation:
        letters = _parse_orientation(code)
        targets = [ORIENTATION_LETTERS[c] for c in letters]
        # The assignment of array axes to the named axes that is best aligned overall (six
        # candidates; ties go to the array's own order, so 45-degree grids stay put).
        best = max(itertools.permutations(range(3)),
                   key=lambda perm: sum(abs(source.direction[lps, a]) for (lps, _), a in zip(targets, perm,
                                                                                               strict=True)))
        flips = tuple(bool(source.direction[lps, a] * sign < 0) for (lps, sign), a in zip(targets, best,
                                                                                       strict=True))
        return cls(letters, source, tuple(int(a) for a in best), flips)  # type: ignore[arg-type]

    @property
    def is_identity(self) -> bool:
        return self.axes == (0, 1, 2) and not any(self.flips)

    @property
    def grid(self) -> Grid:
        """The target grid: same voxels and positions, array axes in the named orientation."""
        src = self.source
        shape = tuple(src.shape[a] for a in self.axes)
        spacing = np.array([src.spacing[a] for a in self.axes])
        direction = np.stack([src.direction[:, a] * (-1.0 if f else 1.0) for a, f in zip(self.axes, self.flips,
                                                                                          strict=True)], axis=1)
        return Grid(shape, spacing, src.index_to_lps(self.to_source_index(np.zeros(3))), direction)

    def apply(self, array: np.ndarray) -> np.ndarray:
        """``array`` (on the source grid) in the target order: a view, not a copy."""
        out = np.transpose(np.asarray(array), self.axes)
        return out[tuple(slice(None, None, -1) if f else slice(None) for f in self.flips)]

    def restore(self, array: np.ndarray) -> np.ndarray:
        """An array in the target order back in the source order (contiguous)."""
        arr = np.asarray(array)[tuple(slice(None, None, -1) if f else slice(None) for f in self.flips)]
        return np.ascontiguousarray(np.transpose(arr, np.argsort(self.axes)))

    def to_target_index(self, index: Any) -> np.ndarray:
        """(..., 3) source array indices (fractional allowed) -> target indices."""
        idx = np.asarray(index, dtype=float)
        out = np.stack([idx[..., a] for a in self.axes], axis=-1)
        for k, (a, f) in enumerate(zip(self.axes, self.flips, strict=True)):
            if f:
                out[..., k] = self.source.shape[a] - 1 - out[..., k]
        return out

    def to_source_index(self, index: Any) -> np.ndarray:
        """(..., 3) target indices -> source array indices (inverse of `to_target_index`)."""
        idx = np.asarray(index, dtype=float)
        out = np.empty_like(idx)
        for k, (a, f) in enumerate(zip(self.axes, self.flips, strict=True)):
            out[..., a] = self.source.shape[a] - 1 - idx[..., k] if f else idx[..., k]
        return out


def _check_array(array: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(array)
    if arr.ndim != 3:
        raise GeometryError(f"{name} must be 3D (z, y, x), got {arr.ndim}D with shape {arr.shape}")
    return arr


@dataclass(frozen=True)
class Volume:
    """A CT (or other scalar) image: array (z, y, x) in HU plus geometry and series metadata."""

    array: np.ndarray
    grid: Grid
    meta: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        arr = _check_array(self.array, "array")
        if tuple(arr.shape) != self.grid.shape:
            raise GeometryError(f"array shape {arr.shape} does not match grid shape {self.grid.shape}")
        object.__setattr__(self, "array", arr)
        object.__setattr__(self, "warnings", tuple(self.warnings))

    # -- constructors -------------------------------------------------------------------------
    @classmethod
    def from_array(cls, array: np.ndarray, spacing: Sequence[float] = (1.0, 1.0, 1.0),
                   origin: Sequence[float] = (0.0, 0.0, 0.0), direction: np.ndarray | None = None,
                   meta: Mapping[str, Any] | None = None, warnings: Sequence[str] = ()) -> Volume:
        """Volume from a (z, y, x) array; default direction is axial head-first: z=S, y=P, x=L."""
        arr = _check_array(array, "array")
        if direction is None:
            direction = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
        return cls(arr, Grid(arr.shape, spacing, origin, direction), dict(meta or {}), tuple(warnings))

    @classmethod
    def from_sitk(cls, image: sitk.Image, meta: Mapping[str, Any] | None = None) -> Volume:
        import SimpleITK as sitk

        return cls(sitk.GetArrayFromImage(image), Grid.from_sitk(image), dict(meta or {}))

    @classmethod
    def from_nifti(cls, image: nibabel.Nifti1Image, meta: Mapping[str, Any] | None = None) -> Volume:
        data = np.asanyarray(image.dataobj)
        if data.ndim == 4 and data.shape[3] == 1:
            data = data[..., 0]
        if data.ndim != 3:
            raise GeometryError(f"NIfTI image must be 3D, got shape {data.shape}")
        grid = Grid.from_nifti_affine(data.shape, image.affine)
        return cls(np.ascontiguousarray(np.transpose(data, (2, 1, 0))), grid, dict(meta or {}))

    # -- conversions ----------------------------------------------------------------------------
    def to_sitk(self) -> sitk.Image:
        import SimpleITK as sitk

        image = sitk.GetImageFromArray(np.ascontiguousarray(self.array))
        _, spacing, origin, direction = self.grid.sitk_geometry()
        image.SetSpacing(spacing)
        image.SetOrigin(origin)
        image.SetDirection(direction)
        return image

    def to_nifti(self) -> nibabel.Nifti1Image:
        import nibabel

        image = nibabel.Nifti1Image(np.transpose(self.array, (2, 1, 0)), self.grid.nifti_affine())
        image.header.set_xyzt_units("mm", "sec")
        image.set_qform(self.grid.nifti_affine(), code=1)
        image.set_sform(self.grid.nifti_affine(), code=1)
        return image

    # -- derived objects ------------------------------------------------------------------------
    def with_array(self, array: np.ndarray) -> Volume:
        """Same geometry and metadata, another array (must have the same shape)."""
        return Volume(array, self.grid, self.meta, self.warnings)

    def reoriented(self, code: str) -> Volume:
        """The same voxels with array axes growing towards ``code`` (e.g. "SPL"); see `Grid.reorientation`."""
        ro = self.grid.reorientation(code)
        return Volume(np.ascontiguousarray(ro.apply(self.array)), ro.grid, self.meta, self.warnings)

    def with_warnings(self, *messages: str) -> Volume:
        return Volume(self.array, self.grid, self.meta, self.warnings + tuple(messages))

    def crop(self, start: Sequence[int], stop: Sequence[int]) -> Volume:
        sl = tuple(slice(int(a), int(b)) for a, b in zip(start, stop, strict=True))
        return Volume(self.array[sl].copy(), self.grid.crop(start, stop), self.meta, self.warnings)

    def resample_to(self, grid: Grid, *, interpolation: str = "linear", fill: float = -1024.0) -> Volume:
        """Resample onto another grid through physical (LPS) coordinates."""
        array = resample_array(self.array, self.grid, grid, interpolation=interpolation, fill=fill)
        return Volume(array, grid, self.meta, self.warnings)

    # -- shortcuts --------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int, int]:
        return self.grid.shape

    @property
    def spacing(self) -> np.ndarray:
        return self.grid.spacing

    @property
    def origin(self) -> np.ndarray:
        return self.grid.origin

    @property
    def direction(self) -> np.ndarray:
        return self.grid.direction

    @property
    def affine(self) -> np.ndarray:
        return self.grid.affine

    def index_to_lps(self, index: Any) -> np.ndarray:
        return self.grid.index_to_lps(index)

    def lps_to_index(self, points: Any) -> np.ndarray:
        return self.grid.lps_to_index(points)

    def sample(self, points_lps: Any, *, order: int = 1, fill: float = -1024.0) -> np.ndarray:
        """Values at (..., 3) LPS points (trilinear by default, ``fill`` outside the grid)."""
        from scipy import ndimage

        pts = np.asarray(points_lps, dtype=float)
        idx = self.lps_to_index(pts.reshape(-1, 3)).T
        arr = self.array
        # 8/16-bit integers are read as they are (float32 holds them exactly: the same values) instead of
        # converting the whole CT first.
        if not (arr.dtype.kind in "ui" and arr.dtype.itemsize <= 2):
            arr = arr.astype(np.float32, copy=False)
        values = ndimage.map_coordinates(arr, idx, order=order, mode="constant", cval=fill, output=np.float32)
        return values.reshape(pts.shape[:-1])


_INTERPOLATORS = {"linear", "nearest", "bspline"}


def resample_array(array: np.ndarray, source: Grid, target: Grid, *, interpolation: str = "linear",
                   fill: float = 0.0) -> np.ndarray:
    """Resample a (z, y, x) array from ``source`` onto ``target`` through LPS coordinates."""
    import SimpleITK as sitk

    if interpolation not in _INTERPOLATORS:
        raise ValueError(f"interpolation must be one of {sorted(_INTERPOLATORS)}, got {interpolation!r}")
    if source.is_same(target):
        return np.array(array, copy=True)
    image = sitk.GetImageFromArray(np.ascontiguousarray(array))
    _, spacing, origin, direction = source.sitk_geometry()
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    image.SetDirection(direction)
    size, spacing, origin, direction = target.sitk_geometry()
    method = {"linear": sitk.sitkLinear, "nearest": sitk.sitkNearestNeighbor,
              "bspline": sitk.sitkBSpline}[interpolation]
    out = sitk.Resample(image, size, sitk.Transform(), method, origin, spacing, direction,
                        float(fill), image.GetPixelID())
    return sitk.GetArrayFromImage(out)


#: Largest value of a non-negative integer array (e.g. connected-component numbers) that `label_mask`
#: still looks up in a table (a bool table of this many entries: 1 MB); beyond it, `np.isin`.
LABEL_TABLE_MAX = 1 << 20


#: Elements counted at a time by `values_present` (a few slices of a CT: its int64 copy stays in cache).
PRESENT_CHUNK = 1 << 20


def values_present(array: np.ndarray) -> list[int]:
    """The distinct values of an integer array, increasing (``np.unique``): 8/16-bit arrays are counted
    in chunks (bincount makes an int64 copy of what it counts), a fraction of np.unique's time on a
    CT-sized labelmap."""
    arr = np.asarray(array)
    if not (arr.dtype.kind == "u" and arr.dtype.itemsize <= 2):
        return [int(v) for v in np.unique(arr)]
    flat = arr.reshape(-1)
    seen = np.zeros(int(np.iinfo(arr.dtype).max) + 1, dtype=bool)
    for start in range(0, flat.size, PRESENT_CHUNK):
        counts = np.bincount(flat[start:start + PRESENT_CHUNK])
        seen[:len(counts)] |= counts > 0
    return [int(v) for v in np.flatnonzero(seen)]


def label_mask(array: np.ndarray, values: Any) -> np.ndarray:
    """``np.isin(array, values)`` for integer label arrays, by table lookup: the same mask in one pass.

    np.isin gathers every element that lies between the smallest and the largest value sought and
    indexes with an int64 copy of them, and copies a non-contiguous view first: on a CT-sized labelmap
    asking for background and body, or any view of it, that is seconds instead of a tenth of one.
    """
    arr = np.asarray(array)
    vals = np.asarray(values).ravel()
    if arr.dtype.kind not in "ui" or (vals.size and vals.dtype.kind not in "uib"):
        return np.isin(arr, vals)
    if arr.dtype.kind == "u" and arr.dtype.itemsize <= 2:
        top = int(np.iinfo(arr.dtype).max)
    elif arr.size == 0:
        return np.zeros(arr.shape, dtype=bool)
    else:
        low, top = int(arr.min()), int(arr.max())
        if low < 0 or top > LABEL_TABLE_MAX:
            return np.isin(arr, vals)
    table = np.zeros(top + 1, dtype=bool)
    vals = vals.astype(np.int64)
    table[vals[(vals >= 0) & (vals <= top)]] = True
    return table[arr]


#: NIfTI header description of a labelmap in ivcplan's label values (`ivcplan.labels.Label`).
IVCPLAN_LABELS_DESCRIP = "ivcplan.labels/1"


@dataclass(frozen=True)
class Labelmap:
    """Integer label array on a grid, with a label table ``{value: (name, (r, g, b))}``.

    The default table is `ivcplan.labels.LABEL_TABLE` (the project's one label enum).
    """

    array: np.ndarray
    grid: Grid
    table: Mapping[int, tuple[str, tuple[int, int, int]]] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        arr = _check_array(self.array, "array")
        if not np.issubdtype(arr.dtype, np.integer):
            raise GeometryError(f"labelmap array must be integer, got {arr.dtype}")
        if tuple(arr.shape) != self.grid.shape:
            raise GeometryError(f"labelmap shape {arr.shape} does not match grid shape {self.grid.shape}")
        object.__setattr__(self, "array", arr)
        if not self.table:
            from ivcplan.labels import LABEL_TABLE

            object.__setattr__(self, "table", dict(LABEL_TABLE))

    @classmethod
    def empty(cls, grid: Grid) -> Labelmap:
        return cls(np.zeros(grid.shape, dtype=np.uint8), grid)

    def mask(self, *labels: int) -> np.ndarray:
        """Boolean mask of the voxels carrying any of ``labels``."""
        return label_mask(self.array, [int(v) for v in labels])

    def present(self) -> list[int]:
        """Label values present in the map (background excluded)."""
        return [v for v in values_present(self.array) if v != 0]

    def volume_ml(self, *labels: int) -> float:
        return float(np.count_nonzero(self.mask(*labels))) * self.grid.voxel_volume_mm3 / 1000.0

    def name(self, value: int) -> str:
        return self.table.get(int(value), (f"label_{int(value)}", (255, 255, 255)))[0]

    def color(self, value: int) -> tuple[int, int, int]:
        return self.table.get(int(value), ("", (255, 255, 255)))[1]

    def with_array(self, array: np.ndarray) -> Labelmap:
        return Labelmap(array, self.grid, self.table, self.meta)

    def reoriented(self, code: str) -> Labelmap:
        """The same labels with array axes growing towards ``code``; see `Grid.reorientation`."""
        ro = self.grid.reorientation(code)
        return Labelmap(np.ascontiguousarray(ro.apply(self.array)), ro.grid, self.table, self.meta)

    def resample_to(self, grid: Grid) -> Labelmap:
        """Nearest-neighbour resampling through LPS coordinates (labels are never blended)."""
        array = resample_array(self.array, self.grid, grid, interpolation="nearest", fill=0)
        return Labelmap(array, grid, self.table, self.meta)

    def to_volume(self) -> Volume:
        return Volume(self.array, self.grid, dict(self.meta))

    def to_nifti(self) -> nibabel.Nifti1Image:
        """NIfTI labelmap (intent "label"); a labelmap in ivcplan's own label values says so in its
        header description, so that `ivcplan.io.load_labels` reads it back without a label table."""
        from ivcplan.labels import LABEL_TABLE

        image = self.to_volume().to_nifti()
        image.header.set_intent("label")
        if dict(self.table) == dict(LABEL_TABLE):
            image.header["descrip"] = IVCPLAN_LABELS_DESCRIP.encode()
        return image
