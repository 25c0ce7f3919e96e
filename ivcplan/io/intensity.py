"""Do a CT's values look like Hounsfield units? Checked on every CT the analysis loads.

Air is -1000 HU by definition, and a body CT always holds some (around the patient, lungs, bowel gas).
When the darkest intensities sit far above that, the values are not HU: typically stored values read
without their RescaleIntercept (air at about 0, every tissue +1024), which makes the liver, the blood and
the tumor unrecognisable: the analysis would report "no liver" or "no tumor" with confidence. The
analysis refuses such an image; `ivcplan info` shows the same finding as a warning.
"""

from __future__ import annotations

import numpy as np

from ivcplan.volume import Volume

AIR_HU = -1000.0
#: Usual RescaleIntercept of CT (stored value 0 = -1024 HU): forgetting it puts air at about +24.
USUAL_INTERCEPT = -1024.0
#: Values below this are padding outside the reconstruction circle (-2048, -3024 HU), not air: ignored.
PADDING_BELOW_HU = -1100.0
#: The "darkest intensity" is this quantile of the remaining voxels: 0.1 %, robust to a few dark noise
#: voxels, yet even a tightly framed abdomen has more air than that (bowel gas, skin line, lung bases).
DARK_QUANTILE = 0.001
#: Air and lung lie below this (lung parenchyma -950..-700 HU); fat (-100) and water (0) are far above.
MAX_DARKEST_HU = -500.0
#: At most this share of voxels may be padding (< PADDING_BELOW_HU): beyond it there is no image left.
MAX_PADDING_FRACTION = 0.99
#: The checks look at about this many voxels (a regular subsample; 0.1 % of it is still 500 voxels).
SAMPLE_VOXELS = 500_000


def _sample(array: np.ndarray) -> np.ndarray:
    step = max(1, int(np.ceil((array.size / SAMPLE_VOXELS) ** (1 / 3))))
    return np.ascontiguousarray(array[::step, ::step, ::step]).ravel()


def hu_problem(volume: Volume) -> str | None:
    """Why ``volume``'s values do not look like HU, or None when they do."""
    if np.issubdtype(volume.array.dtype, np.floating):  # every voxel: one NaN is enough to spoil a measurement
        bad = int(volume.array.size - np.count_nonzero(np.isfinite(volume.array)))
        if bad:
            return f"{bad} voxel(s) are not finite numbers (NaN or infinity): the image cannot be measured"
    values = _sample(volume.array)
    if values.size == 0:
        return "the image holds no voxels"
    inside = values[values >= PADDING_BELOW_HU]
    if inside.size <= (1 - MAX_PADDING_FRACTION) * values.size:
        return (f"{100 * (1 - inside.size / values.size):.1f} % of the voxels are below {PADDING_BELOW_HU:g} HU "
                "(padding): there is no image to analyse")
    # "the darkest 0.1 % lie above -500 HU" is "fewer than 0.1 % lie at or below it": two counts, no sort
    if np.count_nonzero(inside <= MAX_DARKEST_HU) < DARK_QUANTILE * inside.size:
        darkest = float(np.quantile(inside.astype(np.float64), DARK_QUANTILE))
        hint = ""
        if volume.meta.get("rescale_absent"):
            hint = ("; RescaleSlope/RescaleIntercept are absent from the DICOM headers, so the stored values "
                    "were read as HU")
        elif abs(darkest - (AIR_HU - USUAL_INTERCEPT)) <= 100.0:
            hint = "; air stored without its usual -1024 rescale intercept would look like this"
        return (f"intensities do not look like HU: the darkest 0.1 % of voxels are at {darkest:.0f} or above, "
                f"where air should be about -1000 HU{hint}")
    return None
