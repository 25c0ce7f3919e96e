"""Contrast phase from the attenuation of the aorta, IVC, portal vein and kidneys.

Rules (typical attenuations, HU):
- non-contrast: blood pool unenhanced (aorta and IVC about 30-60); kidneys below about 60.
- arterial: aorta strongly enhanced, veins (IVC below the renal veins, portal vein) much less.
- portal venous: aorta, portal vein and IVC all enhanced, within about 80 HU of each other.
- delayed: blood pool moderately enhanced and equilibrated (aorta ~ IVC), or contrast already
  excreted into the renal collecting systems (very dense spots in the kidneys).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

#: Unenhanced blood is below this (HU); enhanced blood is above it.
UNENHANCED_BLOOD_HU = 85.0
#: Unenhanced renal parenchyma is below this (HU).
UNENHANCED_KIDNEY_HU = 70.0
#: Aorta this bright (HU) is enhanced enough to tell arterial from venous phases.
ENHANCED_AORTA_HU = 140.0
#: Arterial phase: the aorta exceeds the portal vein / IVC by at least these margins (HU).
ARTERIAL_MARGIN_PORTAL_HU = 70.0
ARTERIAL_MARGIN_IVC_HU = 110.0
#: Delayed phase: excreted contrast in the collecting system (HU, kidney 99th percentile).
EXCRETED_CONTRAST_HU = 450.0
#: Delayed phase: equilibrium, the aorta within this of the IVC and below ENHANCED_AORTA_HU.
EQUILIBRIUM_HU = 35.0

PHASES = ("non_contrast", "arterial", "portal_venous", "delayed", "unknown")


@dataclass(frozen=True)
class PhaseResult:
    phase: str
    confidence: float
    reason: str


def _get(values: Mapping[str, float], key: str) -> float | None:
    v = values.get(key)
    if v is None:
        return None
    v = float(v)
    return None if math.isnan(v) else v


def detect_phase(attenuation: Mapping[str, float]) -> PhaseResult:
    """Phase from median attenuations (HU) keyed ``aorta``, ``ivc``, ``portal_vein``, ``kidney``
    and optionally ``kidney_p99`` (99th percentile inside the kidneys). Missing keys are allowed.
    """
    aorta = _get(attenuation, "aorta")
    ivc = _get(attenuation, "ivc")
    portal = _get(attenuation, "portal_vein")
    kidney = _get(attenuation, "kidney")
    kidney_p99 = _get(attenuation, "kidney_p99")
    blood = [v for v in (aorta, ivc, portal) if v is not None]
    if not blood and kidney is None:
        return PhaseResult("unknown", 0.0, "no blood pool or kidney measured")
    if kidney_p99 is not None and kidney_p99 >= EXCRETED_CONTRAST_HU and (aorta is None or aorta < 200):
        return PhaseResult("delayed", 0.7, f"excreted contrast in the kidneys ({kidney_p99:.0f} HU)")
    if blood and max(blood) < UNENHANCED_BLOOD_HU and (kidney is None or kidney < UNENHANCED_KIDNEY_HU + 40):
        margin = UNENHANCED_BLOOD_HU - max(blood)
        return PhaseResult("non_contrast", round(min(1.0, 0.6 + margin / 100.0), 2),
                           f"blood pool unenhanced (max {max(blood):.0f} HU)")
    if not blood:
        if kidney < UNENHANCED_KIDNEY_HU:
            return PhaseResult("non_contrast", 0.5, f"kidneys unenhanced ({kidney:.0f} HU)")
        return PhaseResult("unknown", 0.2, "kidneys enhanced but no vessel measured")
    if aorta is not None and aorta >= ENHANCED_AORTA_HU:
        if portal is not None and aorta - portal >= ARTERIAL_MARGIN_PORTAL_HU:
            return PhaseResult("arterial", 0.8, f"aorta {aorta:.0f} HU, portal vein {portal:.0f} HU")
        if portal is None and ivc is not None and aorta - ivc >= ARTERIAL_MARGIN_IVC_HU:
            return PhaseResult("arterial", 0.6, f"aorta {aorta:.0f} HU, IVC {ivc:.0f} HU")
        return PhaseResult("portal_venous", 0.8 if portal is not None else 0.6,
                           f"aorta {aorta:.0f} HU with enhanced veins")
    if aorta is not None and ivc is not None and abs(aorta - ivc) <= EQUILIBRIUM_HU:
        return PhaseResult("delayed", 0.5, f"blood pool equilibrated (aorta {aorta:.0f}, IVC {ivc:.0f} HU)")
    if aorta is not None:
        return PhaseResult("portal_venous", 0.4, f"moderately enhanced aorta ({aorta:.0f} HU)")
    return PhaseResult("unknown", 0.2, "enhanced veins without an aorta measurement")
