"""Hepatic veins followed through the liver, told apart from the portal veins they cross.

Where the hepatic veins open into the IVC they are found as blood touching it (``veins``) or traced
from its wall (``hepatic_trace``); inside the liver they branch out and cross the portal veins, which on
a portal-venous scan are as bright. Voxel by voxel the two trees cannot be told apart, and in a blood
band they merge into one net wherever a hepatic and a portal branch touch. What tells them apart is
where each tree comes from: the hepatic veins drain into the IVC, the portal vein enters the liver at
its hilum, from outside. So:

1. the liver's vessels are the voxels standing out from the parenchyma around them (a local level: the
   parenchyma's own enhancement varies across the liver) by `VESSEL_SD` robust SDs of its noise;
2. the portal tree is seeded where such vessels lie outside the liver, away from the IVC and well below
   the hepatic ostia (the portal vein and its trunk at the hilum); the hepatic veins are seeded by
   their ostia (vessels against the IVC just below the junction, named by their direction from it)
   and by the veins already found there;
3. the trees grow from their seeds over the vessels by a watershed on the vessels' radius: two
   touching branches meet where the vessel is thinnest (where they touch), not along either one.

Without portal seeds (no hilum in view, or no contrast in the portal vein) nothing is grown: the
hepatic veins would take the portal tree with them.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ivcplan.anatomy.morphology import local_mean
from ivcplan.volume import label_mask

#: Smoothing (mm, Gaussian sigma) before the vessels are thresholded (noise down; a 3 mm branch keeps
#: its contrast).
SMOOTH_MM = 1.0
#: The parenchyma's local level: a Gaussian mean (sigma, mm) of the parenchyma around each voxel.
LOCAL_SIGMA_MM = 5.0
#: The parenchyma (for its level and noise) is the liver below this many robust SDs above its median.
PARENCHYMA_SD = 2.0
#: A vessel voxel stands out from the local parenchyma level by this many robust SDs of its noise ...
VESSEL_SD = 2.5
#: ... and by at least this much (HU): on a smooth scan a tiny SD would make texture a vessel.
MIN_VESSEL_CONTRAST_HU = 12.0
#: What is wider than this (radius, mm) is not a hepatic or portal vein inside the liver (the heart and
#: the IVC beside a liver mask that reaches them).
MAX_RADIUS_MM = 8.0
#: Hepatic veins run inside the liver or at most this far (mm) outside its mask (their trunks, at the
#: IVC's groove).
LIVER_MARGIN_MM = 6.0
#: What is grown keeps this far (mm) off the IVC and its tumor but where the veins open: measure/landmarks
#: takes a vein's contact with the IVC for its ostium (a branch running beside the retrohepatic IVC is
#: none), and measure/tumor its contact with the tumor beyond the IVC wall for invasion (a vein passing a
#: tumor's extraluminal part inside the liver abuts it; invasion is judged where the vein was found).
CLEAR_MM = 4.5
#: Portal seeds: vessels at least this far (mm) outside the liver (the hilum's trunk, not a branch at
#: the mask's edge) and at most `HILUM_REACH_MM` ...
PORTAL_OUTSIDE_MM = 2.0
HILUM_REACH_MM = 10.0
#: ... at least this far (mm) from the IVC ...
PORTAL_OFF_IVC_MM = 15.0
#: ... and at least this far (mm) below the junction (the heart lies above, the hilum well below).
PORTAL_BELOW_TOP_MM = 50.0
#: A grown hepatic vein is kept where it reaches this far (mm) from the IVC (as for the veins found at
#: the ostia: what stays closer is the IVC's own wall).
MIN_REACH_MM = 15.0


def grow_hepatic_veins(hu: np.ndarray, spacing: np.ndarray, ivc: np.ndarray, liver: np.ndarray, blocked: np.ndarray,
                       top: int, found: dict[str, np.ndarray], ostia: dict[str, np.ndarray],
                       mouths: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The hepatic veins through the liver by name, kept apart from the portal veins: grown from the
    veins ``found`` at their ostia (name -> mask) and from the vessels in the ``ostia`` shells of the
    veins not found (name -> where its ostium would lie, beside the IVC). All arrays are one box of the
    working grid (``spacing`` mm); ``blocked``: never a vessel here (aorta, kidneys, bone outside the
    liver); ``top``: the box's slice of the cavoatrial junction (nothing grows above it). What is grown
    keeps `CLEAR_MM` off ``ivc`` (IVC with its tumor) but in ``mouths`` (where the veins open: the IVC's
    lumen on the slices of the ostia): a vein meets the IVC where it was found, through its ostium's
    shell, or there. Empty without portal seeds (see the module's docstring)."""
    spacing = np.asarray(spacing, dtype=float)
    if not liver.any() or not any(m.any() for m in (*found.values(), *ostia.values())):
        return {}
    zz = np.arange(hu.shape[0])[:, None, None]
    sm = ndimage.gaussian_filter(hu.astype(np.float32), SMOOTH_MM / spacing)
    inner = liver & ~ivc & ~blocked
    if np.count_nonzero(inner) < 1000:
        return {}
    level = float(np.median(sm[inner]))
    sd = 1.4826 * float(np.median(np.abs(sm[inner] - level)))
    parenchyma = inner & (sm < level + PARENCHYMA_SD * sd)
    local = local_mean(sm, parenchyma, LOCAL_SIGMA_MM / spacing, min_weight=0.05)
    local[np.isnan(local)] = level  # far from any parenchyma (outside the liver)
    outside = ndimage.distance_transform_edt(~liver, sampling=spacing)
    floor = max(VESSEL_SD * sd, MIN_VESSEL_CONTRAST_HU)
    bright = (sm >= local + floor) & ~ivc & ~blocked & (zz <= top)
    # Blood wider than any vein here (a heart chamber beside the dome) is measured before the vessels are
    # cut to the liver's surroundings (which would make a slice of it look thin).
    wide = ndimage.distance_transform_edt(bright, sampling=spacing) > MAX_RADIUS_MM
    vessels = bright & (outside <= HILUM_REACH_MM)
    if wide.any():
        vessels &= ndimage.distance_transform_edt(~wide, sampling=spacing) > MAX_RADIUS_MM
    radius = ndimage.distance_transform_edt(vessels, sampling=spacing)
    off_ivc = ndimage.distance_transform_edt(~ivc, sampling=spacing)
    portal = vessels & (outside > PORTAL_OUTSIDE_MM) & (off_ivc >= PORTAL_OFF_IVC_MM) \
        & (zz < top - PORTAL_BELOW_TOP_MM / spacing[0])
    if not portal.any():
        return {}
    from skimage.segmentation import watershed

    seeds = {name: mask for name, mask in found.items() if mask.any()}
    for name, shell in ostia.items():
        if name not in seeds and (shell & vessels).any():
            seeds[name] = shell & vessels
    markers = np.zeros(hu.shape, dtype=np.int32)
    markers[portal] = 1
    names = list(seeds)
    for k, name in enumerate(names, start=2):
        markers[seeds[name] & ~portal] = k
    grown = watershed(-radius, markers, mask=vessels | (markers > 1))
    out: dict[str, np.ndarray] = {}
    for k, name in enumerate(names, start=2):
        tree = (grown == k) & ((outside <= LIVER_MARGIN_MM) | seeds[name])
        # Only the tree hanging on the seed (the margin may cut the flooded region), and only when it
        # runs out into the liver.
        comp, _ = ndimage.label(tree, structure=np.ones((3, 3, 3), dtype=bool))
        ids = np.unique(comp[seeds[name] & tree])
        tree = label_mask(comp, ids[ids > 0])
        if name not in found:
            tree = _largest_drained(tree, seeds[name])
        if tree.any() and off_ivc[tree].max() >= MIN_REACH_MM:
            free = (off_ivc > CLEAR_MM) | seeds[name]
            out[name] = tree & (free | mouths) if mouths is not None else tree & free
    return out


def _largest_drained(tree: np.ndarray, shell: np.ndarray) -> np.ndarray:
    """Of the vessels grown from a vein's sector of the IVC wall (``shell``), the largest one and the
    shell voxels it opens through: one ostium per vein (other vessels beside the IVC in that sector are
    small veins or partial volume, and would spread its ostium along the IVC)."""
    body = tree & ~shell
    comp, n = ndimage.label(body, structure=np.ones((3, 3, 3), dtype=bool))
    if n == 0:
        return body
    core = comp == 1 + int(np.argmax(np.bincount(comp.ravel())[1:]))
    return core | (tree & shell & ndimage.binary_dilation(core, structure=np.ones((3, 3, 3), dtype=bool)))
