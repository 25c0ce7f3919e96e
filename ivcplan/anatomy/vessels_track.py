"""Slice-to-slice tracking of a tubular vessel (aorta, IVC) on the canonical working frame.

Each axial slice gets candidate cross-sections: elliptical templates whose inside is homogeneous
and differs from a surrounding ring (a vessel surrounded by fat, or an enhanced lumen). A dynamic
programme then picks, slice by slice, the chain of candidates that is both vessel-like and
anatomically plausible (smooth path, expected position relative to the spine and the aorta).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import fft, ndimage

from ivcplan.parallel import available_threads

#: Width (mm) of the ring around a template, compared with its inside.
RING_MM = 4.0
MIN_RING_PX = 2.0  # on coarse pixels the ring must still hold voxels beyond the template
#: Noise floor (HU) added to the inside standard deviation (avoids dividing by ~0).
NOISE_FLOOR_HU = 15.0
#: Scores are capped: one very sharp feature must not outweigh a long, fair tube.
MAX_SCORE = 6.0
#: Inside statistics use the template shrunk by this factor (the wall's partial volume is excluded).
INNER_FRACTION = 0.8
#: Candidates kept per slice for the dynamic programme.
CANDIDATES_PER_SLICE = 20
#: A tracked centre moves at most this far (mm) between slices 1 mm apart, plus a constant.
MAX_SLOPE = 1.2
MAX_JUMP_MM = 8.0
#: Gain subtracted per slice: a chain extends only through slices scoring above it.
STEP_BIAS = 1.0
#: Cost per slice a chain bridges without a candidate (a lumen replaced by a filling defect), and
#: the slope (mm per mm) of the drift allowed across a bridge.
GAP_COST = 0.5
BRIDGE_SLOPE = 0.5


@dataclass(frozen=True)
class Candidate:
    y: float
    x: float
    ry: float  # template semi-axes in mm
    rx: float
    score: float
    inside_hu: float
    ring_hu: float
    defect: bool = False  # a filling defect (soft tissue where the lumen should be), not a lumen


@dataclass(frozen=True)
class Track:
    """Per-slice centre and template of a vessel (NaN where absent), working-grid voxels."""

    z: np.ndarray  # slice indices covered
    y: np.ndarray
    x: np.ndarray
    ry: np.ndarray  # mm
    rx: np.ndarray
    score: np.ndarray
    inside_hu: np.ndarray
    defect: np.ndarray | None = None  # per tracked slice: the centre is a filling defect, not lumen

    def __post_init__(self) -> None:
        if self.defect is None:
            object.__setattr__(self, "defect", np.zeros(self.z.shape, dtype=bool))

    @property
    def filled(self) -> np.ndarray:
        """Slices of the track's range with no lumen on its path: bridged, or on a filling defect."""
        return np.union1d(self.bridged, self.z[self.defect]).astype(int)

    def at(self, z: int) -> int | None:
        hit = np.nonzero(self.z == z)[0]
        return int(hit[0]) if hit.size else None

    @property
    def bridged(self) -> np.ndarray:
        """Slices inside the track's range that it bridged (no candidate on its path)."""
        if self.z.size == 0:
            return np.array([], dtype=int)
        return np.setdiff1d(np.arange(self.z.min(), self.z.max() + 1), self.z)

    def centres(self) -> dict[int, tuple[float, float]]:
        """Centre (y, x) on every slice of the track's range, interpolated across bridges."""
        if self.z.size == 0:
            return {}
        zs = np.arange(self.z.min(), self.z.max() + 1)
        ys, xs = np.interp(zs, self.z, self.y), np.interp(zs, self.z, self.x)
        return {int(z): (float(y), float(x)) for z, y, x in zip(zs, ys, xs, strict=True)}


def _ellipse_kernel(ry_px: float, rx_px: float) -> np.ndarray:
    hy, hx = int(np.ceil(ry_px)), int(np.ceil(rx_px))
    yy, xx = np.mgrid[-hy:hy + 1, -hx:hx + 1]
    return ((yy / max(ry_px, 0.5)) ** 2 + (xx / max(rx_px, 0.5)) ** 2 <= 1.0).astype(np.float32)


def _ring_kernel(ry_px: float, rx_px: float, ring_px: float) -> np.ndarray:
    outer = _ellipse_kernel(ry_px + ring_px, rx_px + ring_px)
    inner = _ellipse_kernel(ry_px + 1.0, rx_px + 1.0)
    py = (outer.shape[0] - inner.shape[0]) // 2
    px = (outer.shape[1] - inner.shape[1]) // 2
    inner = np.pad(inner, ((py, py), (px, px)))
    return np.clip(outer - inner, 0, 1)


def _mean_filter(stack: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    from scipy.signal import fftconvolve  # here, not at the top: scipy.signal takes ~1 s to import

    k = kernel[None] / kernel.sum()
    with fft.set_workers(available_threads()):  # the slices' transforms run in parallel
        return fftconvolve(stack, k, mode="same", axes=(1, 2))


def template_scores(hu: np.ndarray, spacing: np.ndarray, templates: Sequence[tuple[float, float]],
                    hu_range: tuple[float, float], polarity: str = "any") -> tuple[np.ndarray, ...]:
    """Best template score per voxel of a (z, y, x) stack; returns (score, template index, inside, ring).

    ``polarity``: "bright" (inside brighter than its ring), "any" (either way).
    """
    return template_scores_by_polarity(hu, spacing, templates, hu_range, (polarity,))[polarity]


def template_scores_by_polarity(hu: np.ndarray, spacing: np.ndarray, templates: Sequence[tuple[float, float]],
                                hu_range: tuple[float, float], polarities: Sequence[str]
                                ) -> dict[str, tuple[np.ndarray, ...]]:
    """`template_scores` for several polarities at once: the template filters, most of the cost, are
    computed once for all of them."""
    best = {p: np.full(hu.shape, -np.inf, dtype=np.float32) for p in polarities}
    which = {p: np.zeros(hu.shape, dtype=np.int8) for p in polarities}
    inside_best = {p: np.zeros(hu.shape, dtype=np.float32) for p in polarities}
    ring_best = {p: np.zeros(hu.shape, dtype=np.float32) for p in polarities}
    hu = np.clip(hu, -200.0, 700.0)  # air and dense bone would dominate the means
    sq = hu * hu
    ring_px = max(RING_MM / spacing[1], MIN_RING_PX)
    for i, (ry, rx) in enumerate(templates):
        # The inside is measured on a slightly shrunken template and the ring starts just outside
        # the template, so partial-volume voxels at the wall count for neither.
        k = _ellipse_kernel(INNER_FRACTION * ry / spacing[1], INNER_FRACTION * rx / spacing[2])
        m = _mean_filter(hu, k)
        v = np.maximum(_mean_filter(sq, k) - m * m, 0.0)
        ring = _mean_filter(hu, _ring_kernel(ry / spacing[1], rx / spacing[2], ring_px))
        out_of_range = (m < hu_range[0]) | (m > hu_range[1])
        for polarity in polarities:
            diff = np.abs(m - ring) if polarity == "any" else m - ring
            # Contrast beyond ~250 HU says nothing more about being a vessel.
            raw = np.minimum(diff, 250.0) / (np.sqrt(v) + NOISE_FLOOR_HU)
            score = MAX_SCORE * np.tanh(raw / MAX_SCORE)  # saturating, but never tied
            score[out_of_range] = 0.0
            better = score > best[polarity]
            best[polarity][better] = score[better]
            which[polarity][better] = i
            inside_best[polarity][better] = m[better]
            ring_best[polarity][better] = ring[better]
    return {p: (best[p], which[p], inside_best[p], ring_best[p]) for p in polarities}


def slice_candidates(score: np.ndarray, which: np.ndarray, inside: np.ndarray, ring: np.ndarray,
                     templates: Sequence[tuple[float, float]], allowed: np.ndarray,
                     offset: tuple[int, int], k: int = CANDIDATES_PER_SLICE,
                     rank: np.ndarray | None = None) -> list[Candidate]:
    """Top-k local maxima of a 2D score map inside ``allowed``; ``rank`` (default: the score)
    orders them, e.g. the score plus position and attenuation priors."""
    s = np.where(allowed, score, 0.0)
    r = np.where(allowed & (score > 0), score if rank is None else rank, -np.inf)
    peaks = (r == ndimage.maximum_filter(r, size=5)) & np.isfinite(r)
    ys, xs = np.nonzero(peaks)
    if ys.size == 0:
        return []
    order = np.argsort(r[ys, xs])[::-1][:k]
    out = []
    for j in order:
        y, x = ys[j], xs[j]
        ry, rx = templates[int(which[y, x])]
        out.append(Candidate(float(y + offset[0]), float(x + offset[1]), ry, rx, float(s[y, x]),
                             float(inside[y, x]), float(ring[y, x])))
    return out


def dynamic_track(cands: dict[int, list[Candidate]], spacing: np.ndarray,
                  prior: Callable[[int, Candidate], float], z_range: Sequence[int],
                  size_weight: float = 0.05, hu_weight: float = 0.0, bias: float = STEP_BIAS,
                  max_gap: int = 0, gap_cost: float = GAP_COST) -> Track:
    """Best chain of candidates over slices (local alignment: starts and ends anywhere).

    Each slice adds the candidate's score plus ``prior`` (log-like plausibility) minus ``bias``,
    minus a penalty for moving, changing size and (optionally) changing inside HU. Slices where
    nothing is vessel-like add a negative gain, so the chain stops where the vessel ends.

    ``max_gap`` > 0 lets the chain bridge up to that many slices without a candidate on its path
    (a vein whose lumen a tumor or thrombus replaces), at ``gap_cost`` per bridged slice; the move
    allowed across a bridge grows with its length. Bridged slices are absent from the track.
    """
    zs = [z for z in z_range if cands.get(z)]
    if not zs:
        empty = np.array([])
        return Track(empty.astype(int), empty, empty, empty, empty, empty, empty)
    max_move = MAX_SLOPE * spacing[0] + MAX_JUMP_MM
    # Across a bridge the vein's course drifts gently; it does not jump again per slice.
    bridge_move = [max_move] + [BRIDGE_SLOPE * spacing[0] * (1 + k) + MAX_JUMP_MM for k in range(1, max_gap + 1)]

    def feats(cs: list[Candidate]) -> np.ndarray:
        return np.array([[c.y * spacing[1], c.x * spacing[2], c.ry + c.rx, c.inside_hu] for c in cs])

    gains = {z: np.array([c.score + prior(z, c) - bias for c in cands[z]]) for z in zs}
    f = {z: feats(cands[z]) for z in zs}
    value: dict[int, np.ndarray] = {}
    back: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # (previous slice, previous candidate)
    for b in zs:
        own = gains[b]
        best = np.zeros(own.size)  # starting here: nothing before
        from_z = np.full(own.size, -1)
        from_i = np.full(own.size, -1)
        for a in range(b - 1, b - 2 - max_gap, -1):
            if a not in value:
                continue
            skipped = b - a - 1
            allowed = bridge_move[skipped]
            pa, pb = f[a], f[b]
            d = np.hypot(pa[:, None, 0] - pb[None, :, 0], pa[:, None, 1] - pb[None, :, 1])
            trans = -2.0 * (d / allowed) ** 2 - size_weight * np.abs(pa[:, None, 2] - pb[None, :, 2])
            trans = trans - hu_weight * np.abs(pa[:, None, 3] - pb[None, :, 3]) / 50.0 - gap_cost * skipped
            trans[d > allowed] = -np.inf
            total = value[a][:, None] + trans
            arg = np.argmax(total, axis=0)
            cont = total[arg, np.arange(own.size)]
            better = cont > best  # continuing a chain beats starting fresh (or an earlier option)
            best = np.where(better, cont, best)
            from_z = np.where(better, a, from_z)
            from_i = np.where(better, arg, from_i)
        value[b] = own + best
        back[b] = (from_z, from_i)
    z_end = max(zs, key=lambda z: float(np.max(value[z])))
    idx = int(np.argmax(value[z_end]))
    chain = [(z_end, idx)]
    z = z_end
    while back[z][0][idx] >= 0:
        z, idx = int(back[z][0][idx]), int(back[z][1][idx])
        chain.append((z, idx))
    chain.reverse()
    chosen = [(z, cands[z][i]) for z, i in chain]
    return Track(np.array([z for z, _ in chosen], dtype=int), np.array([c.y for _, c in chosen]),
                 np.array([c.x for _, c in chosen]), np.array([c.ry for _, c in chosen]),
                 np.array([c.rx for _, c in chosen]), np.array([c.score for _, c in chosen]),
                 np.array([c.inside_hu for _, c in chosen]), np.array([c.defect for _, c in chosen], dtype=bool))
