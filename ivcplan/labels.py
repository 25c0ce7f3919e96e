"""The one label enum of ivcplan: values, names and colors used by every output.

Values follow the segmentation file contract (docs/report.md). Also the landmark names.
"""

from __future__ import annotations

from enum import IntEnum


class Label(IntEnum):
    BACKGROUND = 0
    IVC_LUMEN = 1
    IVC_TUMOR = 2
    AORTA = 3
    LIVER = 4
    KIDNEY_RIGHT = 5
    KIDNEY_LEFT = 6
    RENAL_VEIN_RIGHT = 7
    RENAL_VEIN_LEFT = 8
    HEPATIC_VEIN_RIGHT = 10
    HEPATIC_VEIN_MIDDLE = 11
    HEPATIC_VEIN_LEFT = 12
    RIGHT_ATRIUM = 13
    PORTAL_VEIN = 14
    SPINE = 15
    BODY = 16
    IVC_THROMBUS = 17
    # Beyond the contract's table (more labels may be added): the common iliac veins define the
    # iliac confluence landmark.
    ILIAC_VEIN_RIGHT = 18
    ILIAC_VEIN_LEFT = 19

    @property
    def key(self) -> str:
        """Lower-case name used in files and reports, e.g. ``ivc_lumen``."""
        return self.name.lower()

    @property
    def color(self) -> tuple[int, int, int]:
        return COLORS[self]


COLORS: dict[Label, tuple[int, int, int]] = {
    Label.BACKGROUND: (0, 0, 0),
    Label.IVC_LUMEN: (60, 110, 230),
    Label.IVC_TUMOR: (240, 200, 20),
    Label.AORTA: (220, 40, 40),
    Label.LIVER: (170, 100, 70),
    Label.KIDNEY_RIGHT: (200, 120, 160),
    Label.KIDNEY_LEFT: (160, 100, 200),
    Label.RENAL_VEIN_RIGHT: (60, 200, 230),
    Label.RENAL_VEIN_LEFT: (40, 160, 190),
    Label.HEPATIC_VEIN_RIGHT: (40, 220, 120),
    Label.HEPATIC_VEIN_MIDDLE: (120, 230, 60),
    Label.HEPATIC_VEIN_LEFT: (20, 160, 90),
    Label.RIGHT_ATRIUM: (150, 40, 120),
    Label.PORTAL_VEIN: (250, 130, 200),
    Label.SPINE: (235, 235, 220),
    Label.BODY: (120, 120, 120),
    Label.IVC_THROMBUS: (140, 70, 30),
    Label.ILIAC_VEIN_RIGHT: (90, 140, 250),
    Label.ILIAC_VEIN_LEFT: (70, 120, 220),
}

#: ``{value: (name, (r, g, b))}`` for every label but background.
LABEL_TABLE: dict[int, tuple[str, tuple[int, int, int]]] = {
    int(lab): (lab.key, COLORS[lab]) for lab in Label if lab is not Label.BACKGROUND
}

#: The IVC itself (what "IVC Dice" is computed on): lumen, tumor and bland thrombus.
IVC_LABELS: tuple[Label, ...] = (Label.IVC_LUMEN, Label.IVC_TUMOR, Label.IVC_THROMBUS)
HEPATIC_VEIN_LABELS: dict[str, Label] = {
    "right": Label.HEPATIC_VEIN_RIGHT, "middle": Label.HEPATIC_VEIN_MIDDLE, "left": Label.HEPATIC_VEIN_LEFT,
}
RENAL_VEIN_LABELS: dict[str, Label] = {"right": Label.RENAL_VEIN_RIGHT, "left": Label.RENAL_VEIN_LEFT}


#: The report contract's landmarks, caudal to cranial: the IVC's ends and its segment boundaries.
CONTRACT_LANDMARKS: tuple[str, ...] = ("iliac_confluence", "renal_veins", "hepatic_veins", "cavoatrial_junction")
#: Every landmark the measurement places: the contract's and each vein's own ostium.
LANDMARKS: tuple[str, ...] = ("iliac_confluence", "renal_vein_right", "renal_vein_left", "renal_veins",
                              "hepatic_vein_right", "hepatic_vein_middle", "hepatic_vein_left", "hepatic_veins",
                              "cavoatrial_junction")
#: Where a clamp can go (issue 19, ivcplan.measure.clamp_room): the lowest level of the retrohepatic IVC and
#: the diaphragm's caval hiatus.
CLAMP_LANDMARKS: tuple[str, ...] = ("liver_caudal_edge", "caval_hiatus")


def label_from_key(key: str) -> Label:
    """Label from its lower-case key (``"ivc_lumen"``); raises ValueError naming valid keys."""
    try:
        return Label[key.strip().upper()]
    except KeyError:
        valid = ", ".join(lab.key for lab in Label)
        raise ValueError(f"unknown label {key!r}; valid labels: {valid}") from None
