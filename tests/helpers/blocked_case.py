"""Sample case (b)'s truth labels made to lose the hepatic vein level, so that R9 withholds the plan (the
starting point of issue 20's "correct, then re-plan" tests): the hepatic veins painted as liver, and the
liver within `MOAT_MM` of the IVC cleared, as when a segmentation misses the retrohepatic liver. Without
that moat the level would be estimated from the caval hiatus (issue 18's cross-check) and the plan given."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ivcplan.labels import HEPATIC_VEIN_LABELS, IVC_LABELS, Label

#: Liver cleared this close (mm) to the IVC: more than the caval hiatus' search ring (clamp_room).
MOAT_MM = 12.0


def without_hepatic_level(array: np.ndarray, spacing) -> np.ndarray:
    arr = array.copy()
    arr[np.isin(arr, [int(v) for v in HEPATIC_VEIN_LABELS.values()])] = Label.LIVER
    ivc = np.isin(arr, [int(v) for v in IVC_LABELS])
    near = ndimage.distance_transform_edt(~ivc, sampling=spacing) <= MOAT_MM
    arr[(arr == Label.LIVER) & near] = 0
    return arr
