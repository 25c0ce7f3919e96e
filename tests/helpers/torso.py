"""A small synthetic trunk for the organ tests: fat inside a muscle wall and a vertebra (cortex,
marrow, spinous process) on the posterior midline; organs are drawn into it by each test."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SPACING = (3.0, 2.0, 2.0)  # z, y, x mm
SHAPE_YX = (130, 160)
ORIGIN = (-200.0, -130.0, -100.0)
#: Vertebral body centre (y, x mm): posterior midline.
VERTEBRA_YX = (45.0, 0.0)


@dataclass
class Trunk:
    z: np.ndarray  # mm coordinates (z, y, x) of every voxel
    y: np.ndarray
    x: np.ndarray
    img: np.ndarray  # HU, float
    body: np.ndarray
    vertebra: np.ndarray


def trunk(nz: int) -> Trunk:
    """``nz`` slices of fat (-100 HU) in a 45 HU muscle wall and a vertebra (600 HU cortex, 160 HU marrow)."""
    ny, nx = SHAPE_YX
    z, y, x = np.meshgrid(np.arange(nz) * SPACING[0], (np.arange(ny) - ny / 2) * SPACING[1],
                          (np.arange(nx) - nx / 2) * SPACING[2], indexing="ij")
    img = np.full((nz, ny, nx), -1000.0)
    body = (x / 140.0) ** 2 + (y / 100.0) ** 2 <= 1.0
    img[body] = -100.0  # fat
    img[body & ((x / 130.0) ** 2 + (y / 90.0) ** 2 > 1.0)] = 45.0  # muscle wall
    vy, vx = VERTEBRA_YX
    r2 = (y - vy) ** 2 + (x - vx) ** 2
    vert = r2 <= 18.0 ** 2
    img[vert] = 160.0
    img[vert & (r2 >= 15.0 ** 2)] = 600.0
    img[(np.abs(x - vx) < 4) & (y > vy + 18) & (y < vy + 45)] = 600.0  # spinous process
    return Trunk(z, y, x, img, body, vert)
