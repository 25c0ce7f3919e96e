"""Geometric primitives of the phantom: a painting canvas, smooth random fields, blobs and tubes.

Everything is evaluated on bounding boxes of the canvas (never on the whole volume) and in LPS
millimetres of the canonical head-first grid (array axes z=S, y=P, x=L).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import interpolate
from scipy.spatial import cKDTree

#: Spacing of the dense samples along a tube's centreline (mm): well under a voxel.
TUBE_STEP_MM = 0.5
#: Length of curve handled per bounding box when painting a tube (mm).
TUBE_CHUNK_MM = 24.0
#: The nearest point is searched on a polyline through every n-th sample (3 mm segments).
POLYLINE_EVERY = 6


class Canvas:
    """Tissue and label arrays on an axis-aligned LPS grid, painted structure by structure.

    ``records`` keeps, per recorded name, the flat indices of a structure's full geometric region
    (before later structures overwrite parts of it): truth uses them for ostia and invasion.
    """

    def __init__(self, zc: np.ndarray, yc: np.ndarray, xc: np.ndarray) -> None:
        self.zc, self.yc, self.xc = (np.asarray(v, dtype=np.float32) for v in (zc, yc, xc))
        self.shape = (len(self.zc), len(self.yc), len(self.xc))
        self.tissue = np.zeros(self.shape, dtype=np.uint8)
        self.label = np.zeros(self.shape, dtype=np.uint8)
        self.records: dict[str, list[np.ndarray]] = {}

    def box(self, lo: Sequence[float], hi: Sequence[float]) -> tuple[slice, slice, slice] | None:
        """Index slices (z, y, x) of the voxels whose centres lie in the LPS box [lo, hi] (x, y, z)."""
        out = []
        for axis, coords in ((2, self.zc), (1, self.yc), (0, self.xc)):
            step = float(coords[1] - coords[0]) if len(coords) > 1 else 1.0
            a = int(np.ceil((lo[axis] - coords[0]) / step - 1e-6))
            b = int(np.floor((hi[axis] - coords[0]) / step + 1e-6)) + 1
            a, b = max(a, 0), min(b, len(coords))
            if b <= a:
                return None
            out.append(slice(a, b))
        return out[0], out[1], out[2]

    def grids(self, sl: tuple[slice, slice, slice]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Broadcastable coordinate arrays X (1,1,nx), Y (1,ny,1), Z (nz,1,1) of a box."""
        z = self.zc[sl[0]][:, None, None]
        y = self.yc[sl[1]][None, :, None]
        x = self.xc[sl[2]][None, None, :]
        return x, y, z

    def points(self, sl: tuple[slice, slice, slice]) -> np.ndarray:
        """(nz, ny, nx, 3) LPS coordinates (x, y, z) of a box's voxel centres."""
        x, y, z = self.grids(sl)
        shape = (z.shape[0], y.shape[1], x.shape[2])
        pts = np.empty((*shape, 3), dtype=np.float32)
        pts[..., 0] = x
        pts[..., 1] = y
        pts[..., 2] = z
        return pts

    def paint(self, sl: tuple[slice, slice, slice], mask: np.ndarray, tissue: int, label: int | None = None, *,
              only: Sequence[int] | None = None, protect: Sequence[int] | None = None,
              record: str | None = None) -> None:
        """Set tissue (and label) where ``mask``; ``only``/``protect`` restrict by the current tissue."""
        mask = np.broadcast_to(mask, tuple(s.stop - s.start for s in sl))
        if record is not None:
            self._record(sl, mask, record)
        current = self.tissue[sl]
        if only is not None:
            mask = mask & np.isin(current, list(only))
        if protect is not None:
            mask = mask & ~np.isin(current, list(protect))
        current[mask] = tissue
        if label is not None:
            self.label[sl][mask] = label

    def record(self, sl: tuple[slice, slice, slice], mask: np.ndarray, name: str) -> None:
        """Add the voxels of ``mask`` (a box's mask) to the recorded region ``name``."""
        self._record(sl, mask, name)

    def _record(self, sl: tuple[slice, slice, slice], mask: np.ndarray, name: str) -> None:
        local = np.nonzero(mask)
        if local[0].size == 0:
            return
        flat = np.ravel_multi_index(tuple(idx + s.start for idx, s in zip(local, sl, strict=True)), self.shape)
        self.records.setdefault(name, []).append(flat.astype(np.int64))

    def record_mask(self, name: str) -> np.ndarray:
        """Boolean mask of a recorded region (empty if never recorded)."""
        out = np.zeros(self.shape, dtype=bool)
        for flat in self.records.get(name, []):
            out.reshape(-1)[flat] = True
        return out


class SmoothNoise:
    """A smooth random field in [-1, 1]-ish: a few random plane waves (cheap, deterministic)."""

    def __init__(self, rng: np.random.Generator, wavelength_mm: tuple[float, float] = (25.0, 70.0),
                 waves: int = 7) -> None:
        dirs = rng.normal(size=(waves, 3))
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        lengths = rng.uniform(*wavelength_mm, size=waves)
        self.k = (2 * np.pi * dirs / lengths[:, None]).astype(np.float32)
        self.phase = rng.uniform(0, 2 * np.pi, size=waves).astype(np.float32)
        self.norm = np.float32(np.sqrt(2.0 / waves))

    def __call__(self, pts: np.ndarray) -> np.ndarray:
        out = np.zeros(pts.shape[:-1], dtype=np.float32)
        for k, ph in zip(self.k, self.phase, strict=True):
            out += np.sin(pts @ k + ph)
        return out * self.norm


def rotation(yaw_deg: float = 0.0, pitch_deg: float = 0.0, roll_deg: float = 0.0) -> np.ndarray:
    """Rotation matrix (columns = the body's local axes in LPS): about z, then y, then x."""
    a, b, c = np.radians([yaw_deg, pitch_deg, roll_deg])
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rx = np.array([[1, 0, 0], [0, np.cos(c), -np.sin(c)], [0, np.sin(c), np.cos(c)]])
    return rz @ ry @ rx


@dataclass(frozen=True)
class Blob:
    """A rotated ellipsoid whose surface is perturbed by a smooth random field."""

    center: np.ndarray
    axes: np.ndarray
    rot: np.ndarray
    bumps: SmoothNoise | None = None
    bump_amp: float = 0.0

    @classmethod
    def make(cls, center: Sequence[float], axes: Sequence[float], rot: np.ndarray | None = None,
             bumps: SmoothNoise | None = None, bump_amp: float = 0.0) -> Blob:
        return cls(np.asarray(center, float), np.asarray(axes, float),
                   np.eye(3) if rot is None else np.asarray(rot, float), bumps, bump_amp)

    def bounds(self, pad: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        half = np.abs(self.rot) @ self.axes * (1 + self.bump_amp) + pad
        return self.center - half, self.center + half

    def field(self, pts: np.ndarray) -> np.ndarray:
        """Normalised radius: < 1 inside (1 on the perturbed surface)."""
        local = (pts - self.center.astype(np.float32)) @ self.rot.astype(np.float32)
        r = np.sqrt(np.sum((local / self.axes.astype(np.float32)) ** 2, axis=-1))
        if self.bumps is not None and self.bump_amp:
            r = r / (1 + self.bump_amp * self.bumps(pts))
        return r


def paint_blob(canvas: Canvas, blob: Blob, tissue: int, label: int | None = None, *, shell: float = 0.0,
               inner: float = 0.0, **kw) -> None:
    """Paint ``inner <= field < 1 + shell`` (shell/inner in normalised units)."""
    lo, hi = blob.bounds(pad=max(shell, 0) * float(np.max(blob.axes)) + 1)
    sl = canvas.box(lo, hi)
    if sl is None:
        return
    f = blob.field(canvas.points(sl))
    canvas.paint(sl, (f < 1 + shell) & (f >= inner), tissue, label, **kw)


@dataclass
class TubeFields:
    """Per-voxel coordinates of a box relative to a tube (arrays of the box shape)."""

    rho: np.ndarray       # normalised elliptic radius (1 on the wall)
    s: np.ndarray         # arc length of the nearest centreline sample (mm) + along-tangent offset
    theta: np.ndarray     # angle in the cross-section: 0 along n1, 90 deg along n2
    radial_mm: np.ndarray  # distance from the centreline perpendicular to it (mm)
    index: np.ndarray     # nearest sample index


class Tube:
    """A tube around a smooth centreline with an elliptic cross-section varying along it.

    ``radii`` gives per control point either r or (a, b): a along n1 (the reference direction
    projected perpendicular to the tangent), b along n2 = t x n1.
    """

    def __init__(self, control: Sequence[Sequence[float]], radii: Sequence[float | Sequence[float]], *,
                 ref: Sequence[float] = (1.0, 0.0, 0.0), step: float = TUBE_STEP_MM) -> None:
        ctrl = np.asarray(control, dtype=float)
        rad = np.asarray(radii, dtype=float)
        if rad.ndim == 1:
            rad = np.stack([rad, rad], axis=1)
        keep = np.r_[True, np.linalg.norm(np.diff(ctrl, axis=0), axis=1) > 1e-3]  # drop repeated points
        ctrl, rad = ctrl[keep], rad[keep]
        if len(ctrl) < 2:
            raise ValueError("a tube needs at least two distinct control points")
        chord = np.r_[0, np.cumsum(np.linalg.norm(np.diff(ctrl, axis=0), axis=1))]
        k = min(3, len(ctrl) - 1)
        spline = interpolate.make_interp_spline(chord, ctrl, k=k)
        fine_u = np.linspace(0, chord[-1], max(int(chord[-1] / (step / 4)), 8))
        fine = spline(fine_u)
        fine_s = np.r_[0, np.cumsum(np.linalg.norm(np.diff(fine, axis=0), axis=1))]
        n = max(int(np.ceil(fine_s[-1] / step)) + 1, 2)
        s = np.linspace(0, fine_s[-1], n)
        u = np.interp(s, fine_s, fine_u)
        self.points = spline(u)
        self.s = s
        tangents = spline.derivative()(u)
        self.tangents = tangents / np.linalg.norm(tangents, axis=1, keepdims=True)
        ref_v = np.asarray(ref, dtype=float)
        n1 = ref_v[None, :] - (self.tangents @ ref_v)[:, None] * self.tangents
        bad = np.linalg.norm(n1, axis=1) < 1e-3
        if np.any(bad):  # tangent parallel to ref: fall back to another axis
            alt = np.roll(ref_v, 1)
            n1[bad] = alt - (self.tangents[bad] @ alt)[:, None] * self.tangents[bad]
        self.n1 = n1 / np.linalg.norm(n1, axis=1, keepdims=True)
        self.n2 = np.cross(self.tangents, self.n1)
        self.a = np.interp(u, chord, rad[:, 0])
        self.b = np.interp(u, chord, rad[:, 1])
        self.length = float(s[-1])
        self._tree = cKDTree(self.points)

    def point_at(self, s: float) -> np.ndarray:
        """Centreline point at arc length ``s`` (extended along the end tangents beyond the ends)."""
        if s <= 0:
            return self.points[0] + s * self.tangents[0]
        if s >= self.length:
            return self.points[-1] + (s - self.length) * self.tangents[-1]
        return np.array([np.interp(s, self.s, self.points[:, i]) for i in range(3)])

    def project(self, pts: np.ndarray) -> np.ndarray:
        """Arc length of the nearest centreline point, extended along the tangent at the ends."""
        pts = np.asarray(pts, dtype=float)
        _, idx = self._tree.query(pts.reshape(-1, 3))
        d = pts.reshape(-1, 3) - self.points[idx]
        along = np.einsum("ij,ij->i", d, self.tangents[idx])
        interior = (idx > 0) & (idx < len(self.s) - 1)
        along = np.where(interior, np.clip(along, -TUBE_STEP_MM, TUBE_STEP_MM), along)
        return (self.s[idx] + along).reshape(pts.shape[:-1])

    def fields(self, pts: np.ndarray) -> TubeFields:
        """Fields of arbitrary (..., 3) points (nearest sample by a k-d tree)."""
        shape = pts.shape[:-1]
        flat = pts.reshape(-1, 3).astype(np.float64)
        _, idx = self._tree.query(flat)
        f = self._local(flat, idx)
        return TubeFields(*(v.reshape(shape) for v in (f.rho, f.s, f.theta, f.radial_mm, f.index)))

    def chunks(self, canvas: Canvas, pad: float, s_range: tuple[float, float] | None = None, *,
               polyline_mm: float | None = None) -> Iterator[tuple[tuple[slice, slice, slice], TubeFields]]:
        """Boxes along the tube (each covering a piece of curve, padded) with their fields.

        Voxels farther than the radius + ``pad`` from the curve get ``rho = inf``. ``polyline_mm``: chord
        length of the polyline the nearest point is searched on (default: POLYLINE_EVERY samples); long
        chords make wide pads affordable (the local frame still comes from the nearest sample).
        """
        every = POLYLINE_EVERY if polyline_mm is None else max(1, round(polyline_mm / TUBE_STEP_MM))
        s0, s1 = (0.0, self.length) if s_range is None else (max(s_range[0], 0.0), min(s_range[1], self.length))
        if s1 < s0:
            return
        r_max = float(max(self.a.max(), self.b.max())) + pad
        chunk = max(TUBE_CHUNK_MM, 2.0 * r_max)  # long chunks for wide pads: less box overlap
        for e0 in np.arange(s0, s1 + 1e-6, chunk):
            sel = np.nonzero((self.s >= e0 - TUBE_STEP_MM) & (self.s <= min(e0 + chunk, s1) + TUBE_STEP_MM))[0]
            if sel.size == 0:
                continue
            pts = self.points[sel]
            r = float(np.maximum(self.a[sel], self.b[sel]).max()) + pad
            sl = canvas.box(pts.min(axis=0) - r, pts.max(axis=0) + r)
            if sl is not None:
                yield sl, self._box_fields(canvas, sl, sel, r, every)

    def _box_fields(self, canvas: Canvas, sl: tuple[slice, slice, slice], sel: np.ndarray, reach: float,
                    every: int = POLYLINE_EVERY) -> TubeFields:
        """Fields on a box: nearest point on the piece's polyline (separable grid arithmetic), then
        the local frame of the nearest sample."""
        x, y, z = canvas.grids(sl)
        shape = (z.shape[0], y.shape[1], x.shape[2])
        best = np.full(shape, np.inf, dtype=np.float32)
        s_best = np.zeros(shape, dtype=np.float32)
        verts = np.unique(np.r_[sel[::every], sel[-1]])
        if verts.size == 1:
            verts = np.r_[verts, verts]
        for i0, i1 in itertools.pairwise(verts):
            a = self.points[i0].astype(np.float32)
            ab = (self.points[i1] - self.points[i0]).astype(np.float32)
            length = float(np.linalg.norm(ab))
            u = ab / length if length > 0 else self.tangents[i0].astype(np.float32)
            dx, dy, dz = x - a[0], y - a[1], z - a[2]
            dot = dx * u[0] + dy * u[1] + dz * u[2]
            t = np.clip(dot, 0, length)
            d2 = (dx * dx + dy * dy + dz * dz) + t * (t - 2 * dot)
            better = d2 < best
            best = np.where(better, d2, best)
            s_best = np.where(better, np.float32(self.s[i0]) + t, s_best)
        near = best < reach * reach
        out = TubeFields(np.full(shape, np.inf, np.float32), np.full(shape, -1e9), np.zeros(shape),
                         np.full(shape, 1e6), np.zeros(shape, dtype=np.int64))
        if not near.any():
            return out
        iz, iy, ix = np.nonzero(near)
        p = np.stack([x[0, 0, ix], y[0, iy, 0], z[iz, 0, 0]], axis=1).astype(np.float64)
        ds = self.s[1] - self.s[0]
        idx = np.clip(np.rint(s_best[near] / ds).astype(np.int64), 0, len(self.s) - 1)
        f = self._local(p, idx)
        for name in ("rho", "s", "theta", "radial_mm", "index"):
            getattr(out, name)[near] = getattr(f, name)
        return out

    def _local(self, p: np.ndarray, idx: np.ndarray) -> TubeFields:
        d = p - self.points[idx]
        along = np.einsum("ij,ij->i", d, self.tangents[idx])
        u1 = np.einsum("ij,ij->i", d, self.n1[idx])
        u2 = np.einsum("ij,ij->i", d, self.n2[idx])
        a = self.a[idx]
        # The along-tangent term rounds off the two ends (it is ~0 at interior samples).
        rho = np.sqrt((u1 / a) ** 2 + (u2 / self.b[idx]) ** 2 + (along / a) ** 2)
        return TubeFields(rho.astype(np.float32), self.s[idx] + along, np.degrees(np.arctan2(u2, u1)) % 360.0,
                          np.hypot(u1, u2), idx)


def paint_tube(canvas: Canvas, tube: Tube, tissue: int, label: int | None = None, *, wall_mm: float = 0.0,
               wall_tissue: int | None = None, wall_label: int | None = None,
               s_range: tuple[float, float] | None = None, **kw) -> None:
    """Paint a tube's lumen (rho < 1), and optionally a wall of ``wall_mm`` around it."""
    r_ref = float(np.mean(tube.a))
    for sl, f in tube.chunks(canvas, pad=wall_mm + 1.0, s_range=s_range):
        inside = f.rho < 1
        if s_range is not None:
            inside &= (f.s >= s_range[0]) & (f.s <= s_range[1])
        if wall_mm and wall_tissue is not None:
            wall = (f.rho < 1 + wall_mm / r_ref) & ~inside
            canvas.paint(sl, wall, wall_tissue, wall_label, **{k: v for k, v in kw.items() if k != "record"})
        canvas.paint(sl, inside, tissue, label, **kw)
