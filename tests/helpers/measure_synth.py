"""Tiny synthetic abdomens with analytic ground truth (LPS mm) for the measurement tests.

A vertical IVC (radius `IVC_R`) from the iliac confluence to the right atrium, renal veins,
hepatic veins and an optional ellipsoid tumor; every structure is drawn from its analytic shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ivcplan.labels import Label
from ivcplan.volume import Grid, Labelmap

AXIAL = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])  # (z, y, x) -> S, P, L

IVC_X, IVC_Y, IVC_R = 40.0, 35.0, 9.0
CONFLUENCE_Z, JUNCTION_Z = 20.0, 190.0
RENAL = {"right": (100.0, -1.0, 5.0), "left": (115.0, 1.0, 5.0)}  # z, x direction, radius
HEPATIC = {"right": (175.0, np.array([-1.0, 0.0, 0.0])), "middle": (180.0, np.array([0.0, -1.0, 0.0])),
           "left": (178.0, np.array([1.0, 0.0, 0.0]))}
HEPATIC_R = 4.0
ATRIUM_R = 18.0


def make_grid(shape=(110, 48, 64), spacing=(2.0, 1.5, 1.5), origin=(0.0, 0.0, 0.0)) -> Grid:
    return Grid(shape, spacing, origin, AXIAL)


def lps_points(grid: Grid) -> np.ndarray:
    return grid.index_to_lps(np.stack(np.indices(grid.shape), axis=-1))


def _tube(p: np.ndarray, a: np.ndarray, b: np.ndarray, r: float) -> np.ndarray:
    ab = b - a
    t = np.clip(((p - a) @ ab) / (ab @ ab), 0.0, 1.0)
    return np.linalg.norm(p - (a + t[..., None] * ab), axis=-1) <= r


@dataclass
class Tumor:
    centre: tuple[float, float, float]
    semi_axes: tuple[float, float, float]  # along x, y, z (LPS)

    def mask(self, p: np.ndarray) -> np.ndarray:
        q = (p - np.asarray(self.centre)) / np.asarray(self.semi_axes)
        return np.sum(q * q, axis=-1) <= 1.0

    @property
    def volume_ml(self) -> float:
        return 4.0 / 3.0 * np.pi * float(np.prod(self.semi_axes)) / 1000.0


@dataclass
class Case:
    labelmap: Labelmap
    truth: dict = field(default_factory=dict)


def abdomen(grid: Grid | None = None, tumor: Tumor | None = None, *, with_atrium: bool = True,
            with_hepatic: bool = True, with_renal: bool = True, with_iliac: bool = True) -> Case:
    grid = grid or make_grid()
    p = lps_points(grid)
    z = p[..., 2]
    lab = np.zeros(grid.shape, np.uint8)
    axis_xy = np.hypot(p[..., 0] - IVC_X, p[..., 1] - IVC_Y)
    if with_iliac:
        for side, label in ((-1, Label.ILIAC_VEIN_RIGHT), (1, Label.ILIAC_VEIN_LEFT)):
            tube = _tube(p, np.array([IVC_X + 16 * side, IVC_Y, -10.0]),
                         np.array([IVC_X + 4 * side, IVC_Y, CONFLUENCE_Z]), 6.0)
            lab[tube & (z < CONFLUENCE_Z)] = label
    ivc = (axis_xy <= IVC_R) & (z >= CONFLUENCE_Z) & (z < JUNCTION_Z)
    if with_renal:
        for side, (zr, sx, r) in RENAL.items():
            label = Label.RENAL_VEIN_RIGHT if side == "right" else Label.RENAL_VEIN_LEFT
            tube = _tube(p, np.array([IVC_X, IVC_Y, zr]), np.array([IVC_X + 45 * sx, IVC_Y, zr]), r)
            lab[tube & ~ivc] = label
    if with_hepatic:
        for side, (zh, d) in HEPATIC.items():
            start = np.array([IVC_X, IVC_Y, zh])
            tube = _tube(p, start, start + 40 * d + np.array([0, 0, 8.0]), HEPATIC_R)
            lab[tube & ~ivc] = {"right": Label.HEPATIC_VEIN_RIGHT, "middle": Label.HEPATIC_VEIN_MIDDLE,
                                "left": Label.HEPATIC_VEIN_LEFT}[side]
    if with_atrium:
        atrium = np.linalg.norm(p - np.array([IVC_X, IVC_Y, JUNCTION_Z + ATRIUM_R]), axis=-1) <= ATRIUM_R
        lab[atrium & (z >= JUNCTION_Z)] = Label.RIGHT_ATRIUM
    lab[ivc] = Label.IVC_LUMEN
    truth: dict = {"iliac_confluence_z": CONFLUENCE_Z, "cavoatrial_junction_z": JUNCTION_Z,
                   "renal_veins_z": max(zr + r for zr, _, r in RENAL.values()),
                   "hepatic_veins_z": min(zh for zh, _ in HEPATIC.values())}
    if tumor is not None:
        lab[tumor.mask(p)] = Label.IVC_TUMOR
        c, a = np.asarray(tumor.centre), np.asarray(tumor.semi_axes)
        truth.update(tumor_volume_ml=tumor.volume_ml, upper_pole=c + np.array([0, 0, a[2]]),
                     lower_pole=c - np.array([0, 0, a[2]]))
    return Case(Labelmap(lab, grid), truth)
