"""Tissue classes of the phantom and their portal-venous-phase attenuation (docs/clinical.md ranges).

Each tissue has a mean HU, a coarse texture (organ heterogeneity, ~6 mm grain) and a fine texture
(parenchymal mottle, ~1 mm grain), both standard deviations in HU.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class T(IntEnum):
    AIR = 0
    TABLE = 1
    TABLE_FOAM = 2
    SKIN = 3
    FAT_SUBCUT = 4
    MUSCLE = 5
    FAT_VISCERAL = 6
    BONE_CORTEX = 7
    BONE_MARROW = 8
    DISC = 9
    CSF = 10
    CORD = 11
    LUNG = 12
    LUNG_VESSEL = 13
    MYOCARDIUM = 14
    BLOOD_HEART = 15
    AORTA = 16
    VESSEL_WALL = 17
    IVC_BLOOD = 18
    IVC_BLOOD_LOW = 19    # infrarenal IVC: less enhanced blood returning from the legs
    PORTAL = 20
    HEPATIC_VEIN = 21
    RENAL_VEIN = 22
    LIVER = 23
    GALLBLADDER = 24
    SPLEEN = 25
    KIDNEY_CORTEX = 26
    KIDNEY_MEDULLA = 27
    RENAL_SINUS = 28
    URINE = 29
    PANCREAS = 30
    BOWEL_WALL = 31
    BOWEL_FLUID = 32
    GAS = 33
    STOOL = 34
    TUMOR = 35
    NECROSIS = 36
    THROMBUS = 37
    CARTILAGE = 38
    ARTERY = 39
    PERICARDIAL_FAT = 40
    ESOPHAGUS = 41
    BONE_ARCH = 42       # posterior vertebral elements: thin, mostly cortical
    # Used by the randomized cases only (ivcplan.phantom.varied):
    IVC_MIX_1 = 43       # renal inflow mixing with infrarenal blood: 1/4, 1/2, 3/4 of the way
    IVC_MIX_2 = 44
    IVC_MIX_3 = 45
    CALCIFICATION = 46
    ATRIUM_BLOOD = 47    # right atrium: caval blood, less enhanced than the left heart
    SMALL_VEIN = 48      # gonadal and lumbar veins: late-enhancing return
    IVC_JET = 49         # renal vein blood streaming up the IVC wall beside the renal ostia


# tissue: (mean HU, coarse std, fine std)
HU: dict[T, tuple[float, float, float]] = {
    T.AIR: (-1000, 0, 0),
    T.TABLE: (250, 0, 5),
    T.TABLE_FOAM: (-920, 0, 10),
    T.SKIN: (45, 3, 6),
    T.FAT_SUBCUT: (-105, 6, 8),
    T.MUSCLE: (55, 4, 7),
    T.FAT_VISCERAL: (-98, 8, 10),
    T.BONE_CORTEX: (850, 60, 40),
    T.BONE_MARROW: (230, 45, 35),
    T.DISC: (85, 6, 8),
    T.CSF: (12, 2, 5),
    T.CORD: (35, 2, 5),
    T.LUNG: (-860, 25, 25),
    T.LUNG_VESSEL: (120, 10, 10),
    T.MYOCARDIUM: (105, 5, 7),
    T.BLOOD_HEART: (165, 4, 5),
    T.AORTA: (160, 3, 5),
    T.VESSEL_WALL: (60, 2, 5),
    T.IVC_BLOOD: (155, 4, 5),
    T.IVC_BLOOD_LOW: (132, 5, 5),
    T.PORTAL: (175, 3, 5),
    T.HEPATIC_VEIN: (158, 3, 5),
    T.RENAL_VEIN: (168, 3, 5),
    T.LIVER: (110, 5, 6),
    T.GALLBLADDER: (8, 2, 4),
    T.SPLEEN: (118, 4, 6),
    T.KIDNEY_CORTEX: (195, 8, 8),
    T.KIDNEY_MEDULLA: (165, 8, 8),
    T.RENAL_SINUS: (-75, 12, 10),
    T.URINE: (12, 2, 4),
    T.PANCREAS: (100, 10, 10),
    T.BOWEL_WALL: (105, 8, 8),
    T.BOWEL_FLUID: (18, 6, 6),
    T.GAS: (-980, 0, 10),
    T.STOOL: (-40, 120, 60),
    T.TUMOR: (68, 14, 10),
    T.NECROSIS: (22, 5, 6),
    T.THROMBUS: (48, 4, 5),
    T.CARTILAGE: (120, 8, 10),
    T.ARTERY: (160, 3, 5),
    T.PERICARDIAL_FAT: (-95, 6, 8),
    T.ESOPHAGUS: (45, 5, 6),
    T.BONE_ARCH: (520, 80, 50),
    T.IVC_MIX_1: (138, 5, 5),
    T.IVC_MIX_2: (144, 5, 5),
    T.IVC_MIX_3: (150, 5, 5),
    T.CALCIFICATION: (600, 120, 60),
    T.ATRIUM_BLOOD: (160, 4, 5),
    T.SMALL_VEIN: (120, 5, 5),
    T.IVC_JET: (168, 3, 5),
}
#: IVC lumen blood classes (a thrombus may form in any of them).
IVC_BLOOD_CLASSES = (T.IVC_BLOOD, T.IVC_BLOOD_LOW, T.IVC_MIX_1, T.IVC_MIX_2, T.IVC_MIX_3, T.IVC_JET)

FATS = (T.FAT_VISCERAL,)
#: Tissues the tumor never grows into (it displaces them).
TUMOR_PROTECTED = (T.AORTA, T.ARTERY, T.BONE_CORTEX, T.BONE_MARROW, T.BONE_ARCH, T.DISC, T.CSF, T.CORD, T.KIDNEY_CORTEX,
                   T.KIDNEY_MEDULLA, T.RENAL_SINUS, T.URINE, T.SKIN, T.AIR, T.TABLE, T.TABLE_FOAM)


def lut(overrides: dict[T, tuple[float, float, float]] | None = None
        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, coarse std, fine std) float32 lookup tables indexed by tissue value; ``overrides``
    replaces some tissues' values (a randomized case's enhancement)."""
    size = max(HU) + 1
    out = np.zeros((3, size), dtype=np.float32)
    for tissue, values in {**HU, **(overrides or {})}.items():
        out[:, int(tissue)] = values
    return out[0], out[1], out[2]
