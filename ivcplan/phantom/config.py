"""Parameters of a synthetic case: imaging, patient position, and the IVC lesion (tumor or thrombus).

Lesion extents are given as positions along the IVC centreline, either millimetres of arc length
from the iliac confluence or a landmark name with an offset (``"renal_veins-45"``,
``"cavoatrial_junction+20"``), resolved against the generated anatomy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ivcplan.errors import InputError
from ivcplan.labels import CONTRACT_LANDMARKS

HEPATIC_VEINS = ("right", "middle", "left")
RENAL_VEINS = ("right", "left")
PATIENT_POSITIONS = ("HFS", "FFS")
TRANSFER_SYNTAX_NAMES = ("explicit", "rle", "jpeg2000")
#: Canonical craniocaudal field of view (LPS z, mm; 0 = iliac confluence level): iliac veins to atrium.
DEFAULT_Z_RANGE_MM = (-45.0, 300.0)

_POSITION = re.compile(r"^\s*(?P<name>[a-z_]+)\s*(?P<offset>[+-]\s*\d+(\.\d*)?)?\s*$")


def parse_position(value: str | float, argument: str) -> tuple[str | None, float]:
    """``"renal_veins-45"`` -> ("renal_veins", -45.0); ``120`` -> (None, 120.0)."""
    if isinstance(value, int | float):
        return None, float(value)
    try:
        return None, float(value)
    except ValueError:
        pass
    match = _POSITION.match(str(value))
    if not match or match["name"] not in CONTRACT_LANDMARKS:
        raise InputError(f"{argument}={value!r}: expected millimetres along the IVC or "
                         f"'<landmark>[+-offset]' with landmark one of {', '.join(CONTRACT_LANDMARKS)}")
    offset = float(match["offset"].replace(" ", "")) if match["offset"] else 0.0
    return match["name"], offset


@dataclass(frozen=True)
class TumorSpec:
    """An IVC leiomyosarcoma: an irregular, heterogeneous, partly necrotic mass expanding the IVC.

    ``direction_deg`` is where the mass bulges out of the vein, in the IVC cross-section:
    0 = patient left, 90 = posterior, 180 = right, 270 = anterior.
    """

    lower: str | float = "renal_veins-45"
    upper: str | float = "renal_veins+45"
    transverse_mm: float = 55.0
    ap_mm: float = 45.0
    direction_deg: float = 225.0
    residual_lumen_mm: float = 4.0
    irregularity: float = 0.10
    necrosis: float = 0.45
    hepatic_veins_invaded: tuple[str, ...] = ()
    renal_veins_invaded: tuple[str, ...] = ()
    invasion_mm: float = 22.0

    def __post_init__(self) -> None:
        parse_position(self.lower, "tumor.lower")
        parse_position(self.upper, "tumor.upper")
        for name, value in (("transverse_mm", self.transverse_mm), ("ap_mm", self.ap_mm),
                            ("invasion_mm", self.invasion_mm)):
            if not value > 0:
                raise InputError(f"tumor.{name} must be positive, got {value}")
        if self.residual_lumen_mm < 0:
            raise InputError(f"tumor.residual_lumen_mm must be >= 0, got {self.residual_lumen_mm}")
        if not 0 <= self.necrosis < 1:
            raise InputError(f"tumor.necrosis must be in [0, 1), got {self.necrosis}")
        if not 0 <= self.irregularity <= 0.4:
            raise InputError(f"tumor.irregularity must be in [0, 0.4], got {self.irregularity}")
        _check_names(self.hepatic_veins_invaded, HEPATIC_VEINS, "tumor.hepatic_veins_invaded")
        _check_names(self.renal_veins_invaded, RENAL_VEINS, "tumor.renal_veins_invaded")


@dataclass(frozen=True)
class ThrombusSpec:
    """Bland thrombus: non-enhancing, inside the normal-calibre IVC (never expands it)."""

    lower: str | float = "iliac_confluence+10"
    upper: str | float = "renal_veins-15"
    occlusion: float = 0.7          # fraction of the lumen width filled at the thickest point
    direction_deg: float = 90.0     # side of the wall it lies against (posterior: dependent)

    def __post_init__(self) -> None:
        parse_position(self.lower, "thrombus.lower")
        parse_position(self.upper, "thrombus.upper")
        if not 0 < self.occlusion <= 1:
            raise InputError(f"thrombus.occlusion must be in (0, 1], got {self.occlusion}")


@dataclass(frozen=True)
class PhantomConfig:
    """Everything that defines a synthetic case; the same config and seed give the same case."""

    seed: int = 0
    matrix: int = 256
    pixel_mm: float = 1.5
    slice_spacing_mm: float = 3.0
    slice_thickness_mm: float | None = None
    n_slices: int | None = None
    z_range_mm: tuple[float, float] = DEFAULT_Z_RANGE_MM
    noise_hu: float = 12.0
    blur_mm: float = 1.1
    patient_position: str = "HFS"
    tumor: TumorSpec | None = None
    thrombus: ThrombusSpec | None = None
    name: str = "phantom"
    series_description: str = "Abdomen PV 3.0 (synthetic phantom)"
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 16 <= int(self.matrix) <= 1024:
            raise InputError(f"matrix must be between 16 and 1024, got {self.matrix}")
        for name in ("pixel_mm", "slice_spacing_mm"):
            if not getattr(self, name) > 0:
                raise InputError(f"{name} must be positive, got {getattr(self, name)}")
        if self.slice_thickness_mm is not None and not self.slice_thickness_mm > 0:
            raise InputError(f"slice_thickness_mm must be positive, got {self.slice_thickness_mm}")
        if self.n_slices is not None and self.n_slices < 2:
            raise InputError(f"n_slices must be at least 2, got {self.n_slices}")
        if self.z_range_mm[1] <= self.z_range_mm[0]:
            raise InputError(f"z_range_mm must be increasing, got {self.z_range_mm}")
        if self.noise_hu < 0 or self.blur_mm < 0:
            raise InputError(f"noise_hu and blur_mm must be >= 0, got {self.noise_hu}, {self.blur_mm}")
        if self.patient_position not in PATIENT_POSITIONS:
            raise InputError(f"patient_position must be one of {PATIENT_POSITIONS}, got {self.patient_position!r}")
        if self.tumor is not None and self.thrombus is not None:
            raise InputError("a case has either a tumor or a bland thrombus, not both")

    @property
    def spacing_z(self) -> float:
        if self.n_slices is not None:
            return (self.z_range_mm[1] - self.z_range_mm[0]) / (self.n_slices - 1)
        return float(self.slice_spacing_mm)

    @property
    def thickness(self) -> float:
        return float(self.slice_thickness_mm) if self.slice_thickness_mm is not None else self.spacing_z


def _check_names(values: tuple[str, ...], valid: tuple[str, ...], argument: str) -> None:
    bad = [v for v in values if v not in valid]
    if bad:
        raise InputError(f"{argument}: unknown {bad}; valid: {', '.join(valid)}")
