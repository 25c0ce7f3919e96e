"""The whole of an eccentric tumor (issue 18: found tumors of the randomized family were 20-50 % too
small): the delineated vein holds the mass only where it fills the vein, so its growth must follow the
mass beyond that stretch along the vein wall, up and down, to its poles, and a mass larger than the
reach that decides tumor against thrombus must still be grown to its own edge. A neighbour of the
mass's attenuation that leaves the vein wall below the mass is not followed."""

from __future__ import annotations

import numpy as np

from ivcplan.anatomy.tumor import MAX_TUMOR_RADIUS_MM, split_ivc

SPACING = np.array([2.0, 1.0, 1.0])
LUMEN_HU, MASS_HU, FAT_HU = 170.0, 60.0, -90.0


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * np.count_nonzero(a & b) / (np.count_nonzero(a) + np.count_nonzero(b))


def _slices(mask: np.ndarray) -> np.ndarray:
    return np.nonzero(mask.any(axis=(1, 2)))[0]


def _beside_vein(nz: int = 70, n: int = 100) -> tuple[np.ndarray, ...]:
    """A straight vein (radius 7 mm) and an ellipsoidal mass (radii 16 mm in plane, 40 mm along the
    vein, centred 18 mm to its side on slice 35) that fills the vein on slices 29-41 only (the
    delineation follows the residual lumen beside it elsewhere). Returns (zz, yy, xx, hu, delineated vein, mass)."""
    zz, yy, xx = np.mgrid[0:nz, 0:n, 0:n].astype(float)
    vein = np.hypot(yy - 50, xx - 40) <= 7.0
    mass = ((yy - 50) ** 2 + (xx - 58) ** 2) / 16.0**2 + ((zz - 35) * SPACING[0]) ** 2 / 40.0**2 <= 1.0
    filled = (zz >= 29) & (zz <= 41)
    hu = np.full((nz, n, n), FAT_HU)
    hu[vein] = LUMEN_HU
    tumor = (mass & ~vein) | (vein & filled)
    hu[tumor] = MASS_HU
    hu += np.random.default_rng(3).normal(0.0, 8.0, hu.shape)
    return zz, yy, xx, hu, vein, tumor


def test_an_eccentric_mass_is_followed_to_both_poles_along_the_vein_wall() -> None:
    *_, hu, vein, mass = _beside_vein()
    parts = split_ivc(hu, vein, SPACING, contrast=True, upper_hu=110.0)
    got, want = _slices(parts.tumor), _slices(mass)
    # The mass spans slices 15-55 (80 mm). Before, its growth stopped one section below the defect
    # and 15 mm above it (slices 29-48: Dice 0.78, lower pole 28 mm off); measured now: slices 20-50,
    # Dice 0.92 (its tips, thinner than the opening and off the vein wall, are not followed).
    assert abs(int(got.min()) - int(want.min())) * SPACING[0] <= 12.0
    assert abs(int(got.max()) - int(want.max())) * SPACING[0] <= 12.0
    assert _dice(parts.tumor, mass) >= 0.88
    assert not parts.thrombus.any()


def test_a_neighbour_that_leaves_the_vein_wall_below_the_mass_is_not_followed() -> None:
    zz, yy, xx, hu, vein, mass = _beside_vein()
    # A muscle of the mass's attenuation (a psoas) that the mass's lower pole rests on, running on
    # down 12 mm away from the vein wall.
    muscle = (np.hypot(yy - 50, xx - 74) <= 6.0) & (zz <= 20)
    hu[muscle & ~mass] = MASS_HU + np.random.default_rng(4).normal(0.0, 8.0, hu.shape)[muscle & ~mass]
    parts = split_ivc(hu, vein, SPACING, contrast=True, upper_hu=110.0)
    # Measured: 3 of its 2372 voxels taken; the mass as without it (Dice 0.92).
    assert np.count_nonzero(parts.tumor & muscle & ~mass) <= 0.02 * np.count_nonzero(muscle & ~mass)
    assert _dice(parts.tumor, mass) >= 0.88


def test_a_mass_larger_than_the_calling_reach_is_grown_to_its_own_edge() -> None:
    # A vein (radius 8 mm) with a mass of radius 40 mm (an 8 cm tumor) centred 32 mm to one side of it:
    # its far edge lies 72 mm from the vein's centre, beyond `MAX_TUMOR_RADIUS_MM`.
    nz, n = 30, 150
    zz, yy, xx = np.mgrid[0:nz, 0:n, 0:n].astype(float)
    vein = np.hypot(yy - 75, xx - 35) <= 8.0
    mass = ((yy - 75) ** 2 + (xx - 67) ** 2) / 40.0**2 + ((zz - 15) * SPACING[0]) ** 2 / 26.0**2 <= 1.0
    far = np.hypot(yy - 75, xx - 35) > MAX_TUMOR_RADIUS_MM
    assert np.count_nonzero(mass & far) >= 0.2 * mass.sum()
    hu = np.full((nz, n, n), FAT_HU)
    hu[vein] = LUMEN_HU
    hu[mass] = MASS_HU
    hu += np.random.default_rng(5).normal(0.0, 8.0, hu.shape)
    centres = {z: (75.0, 35.0) for z in range(nz)}  # the vein's centre line, as the track gives it
    parts = split_ivc(hu, vein, SPACING, contrast=True, upper_hu=110.0, centres=centres)
    # Before: cut at 45 mm from the vein's centre (none of the far part; Dice 0.69). Measured now: 0.86
    # of the far part, Dice 0.91.
    assert np.count_nonzero(parts.tumor & mass & far) >= 0.8 * np.count_nonzero(mass & far)
    assert _dice(parts.tumor, mass) >= 0.88
