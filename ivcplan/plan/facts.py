"""The planner's view of a report: the fields the rules read, type-checked, ``None`` when unknown.

``facts`` is the report's sections as plain dicts (``ivc``, ``landmarks``, ``tumor``, ``liver``,
``input``; optionally ``clinical`` with ``prior_chemotherapy`` / ``liver_fibrosis`` booleans, which
CT cannot show). Missing or null fields stay ``None`` (unknown), never ``False``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ivcplan.errors import InputError
from ivcplan.labels import CLAMP_LANDMARKS, CONTRACT_LANDMARKS

SEGMENTS = ("I", "II", "III")
SIDES_HEPATIC = ("right", "middle", "left")
SIDES_RENAL = ("right", "left")
#: The landmarks the planner reads: the contract's and the clamp-room ones.
LANDMARK_NAMES = (*CONTRACT_LANDMARKS, *CLAMP_LANDMARKS)
#: Levels of ``ivc.diameters_mm`` in the order a graft is sized from (the upper resection margin first).
DIAMETER_LEVELS = ("above_tumor", "renal_veins", "below_tumor")


@dataclass(frozen=True)
class LandmarkFact:
    found: bool | None  # None: the landmark is not in the facts at all
    confidence: float | None


@dataclass(frozen=True)
class Facts:
    ivc_detected: bool | None
    landmarks: Mapping[str, LandmarkFact]
    tumor_present: bool | None
    tumor_confidence: float | None
    segments: frozenset[str] | None
    d_upper_to_hepatic_mm: float | None
    d_upper_to_caj_mm: float | None
    d_lower_to_renal_mm: float | None
    hepatic_invaded: frozenset[str] | None
    hepatic_abutting: frozenset[str] | None
    renal_involved: frozenset[str] | None
    intracardiac: bool | None
    intracardiac_length_mm: float | None
    complete_occlusion: bool | None
    max_occlusion_pct: float | None
    collateral_return: bool | None
    circumferential_deg: float | None
    ivc_diameter_above_mm: float | None
    growth_pattern: str | None
    adjacent_organs: tuple[str, ...] | None
    liver_volume_ml: float | None
    flr_ml: float | None
    flr_ratio: float | None
    flr_method: str | None
    prior_chemotherapy: bool | None
    liver_fibrosis: bool | None
    contrast_phase: str | None
    # Added by issue 19: sizes, clamp room, lumen, remnant details (all None when not reported).
    transverse_mm: Mapping[str, float | None] = field(default_factory=dict)  # level -> transverse diameter
    diameter_reasons: Mapping[str, str | None] = field(default_factory=dict)
    craniocaudal_length_mm: float | None = None
    occluded_length_mm: float | None = None
    residual_lumen_mm2: float | None = None
    d_upper_to_hiatus_mm: float | None = None
    d_upper_to_liver_edge_mm: float | None = None
    retrohepatic_length_mm: float | None = None
    d_upper_to_hv_mm: Mapping[str, float | None] = field(default_factory=dict)
    d_lower_to_iliac_mm: float | None = None
    organs_invaded: tuple[str, ...] | None = None
    collateral_detail: str | None = None
    extraluminal_ml: float | None = None
    caudate_ml: float | None = None
    flr_ratio_range: tuple[float, float] | None = None
    weight_kg: float | None = None

    @classmethod
    def from_mapping(cls, facts: Mapping[str, Any]) -> Facts:
        if not isinstance(facts, Mapping):
            raise InputError(f"facts must be a mapping of report sections, got {type(facts).__name__}")
        ivc = _section(facts, "ivc")
        tumor = _section(facts, "tumor")
        liver = _section(facts, "liver")
        clinical = _section(facts, "clinical")
        source = _section(facts, "input")
        diameters = _diameters(_section(ivc, "diameters_mm"))
        return cls(
            ivc_detected=_bool(ivc, "ivc", "detected"),
            landmarks=_landmarks(_section(facts, "landmarks")),
            tumor_present=_bool(tumor, "tumor", "present"),
            tumor_confidence=_number(tumor, "tumor", "confidence", 0.0, 1.0),
            segments=_choices(tumor, "tumor", "segments", SEGMENTS),
            d_upper_to_hepatic_mm=_number(tumor, "tumor", "distance_upper_pole_to_hepatic_veins_mm"),
            d_upper_to_caj_mm=_number(tumor, "tumor", "distance_upper_pole_to_cavoatrial_junction_mm"),
            d_lower_to_renal_mm=_number(tumor, "tumor", "distance_lower_pole_to_renal_veins_mm"),
            hepatic_invaded=_choices(tumor, "tumor", "hepatic_veins_invaded", SIDES_HEPATIC),
            hepatic_abutting=_choices(tumor, "tumor", "hepatic_veins_abutting", SIDES_HEPATIC),
            renal_involved=_choices(tumor, "tumor", "renal_veins_involved", SIDES_RENAL),
            intracardiac=_bool(tumor, "tumor", "intracardiac"),
            intracardiac_length_mm=_number(tumor, "tumor", "intracardiac_length_mm", 0.0),
            complete_occlusion=_bool(tumor, "tumor", "complete_occlusion"),
            max_occlusion_pct=_number(tumor, "tumor", "max_lumen_occlusion_pct", 0.0, 100.0),
            collateral_return=_bool(tumor, "tumor", "collateral_return"),
            circumferential_deg=_number(tumor, "tumor", "max_circumferential_involvement_deg", 0.0, 360.0),
            ivc_diameter_above_mm=_number(tumor, "tumor", "ivc_diameter_above_mm", 0.0),
            growth_pattern=_string(tumor, "tumor", "growth_pattern"),
            adjacent_organs=_strings(tumor, "tumor", "adjacent_organs"),
            liver_volume_ml=_number(liver, "liver", "volume_ml", 0.0),
            flr_ml=_number(liver, "liver", "flr_ml", 0.0),
            flr_ratio=_number(liver, "liver", "flr_ratio", 0.0, 1.0),
            flr_method=_string(liver, "liver", "flr_method"),
            prior_chemotherapy=_bool(clinical, "clinical", "prior_chemotherapy"),
            liver_fibrosis=_bool(clinical, "clinical", "liver_fibrosis"),
            contrast_phase=_string(source, "input", "contrast_phase"),
            transverse_mm={level: _number(d, "ivc.diameters_mm", level, 0.0) for level, d in diameters.items()},
            diameter_reasons={level: _string(d, "ivc.diameters_mm", "reason") for level, d in diameters.items()},
            craniocaudal_length_mm=_number(tumor, "tumor", "craniocaudal_length_mm", 0.0),
            occluded_length_mm=_number(tumor, "tumor", "occluded_length_mm", 0.0),
            residual_lumen_mm2=_number(tumor, "tumor", "residual_lumen_min_area_mm2", 0.0),
            d_upper_to_hiatus_mm=_number(tumor, "tumor", "distance_upper_pole_to_caval_hiatus_mm"),
            d_upper_to_liver_edge_mm=_number(tumor, "tumor", "distance_upper_pole_to_liver_caudal_edge_mm"),
            retrohepatic_length_mm=_number(tumor, "tumor", "retrohepatic_length_mm", 0.0),
            d_upper_to_hv_mm=_per_vein(tumor),
            d_lower_to_iliac_mm=_number(tumor, "tumor", "distance_lower_pole_to_iliac_confluence_mm"),
            organs_invaded=_strings(tumor, "tumor", "organs_invaded"),
            collateral_detail=_string(_section(tumor, "collaterals"), "tumor.collaterals", "reason"),
            extraluminal_ml=_number(tumor, "tumor", "extraluminal_volume_ml", 0.0),
            caudate_ml=_number(liver, "liver", "caudate_ml", 0.0),
            flr_ratio_range=_range(liver, "liver", "flr_ratio_range"),
            weight_kg=_number(clinical, "clinical", "weight_kg", 0.0, 500.0),
        )


def _diameters(data: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    out: dict[str, Mapping[str, Any]] = {}
    for level in DIAMETER_LEVELS:
        entry = data.get(level)
        if entry is None:
            continue
        if not isinstance(entry, Mapping):
            raise InputError(f"facts['ivc']['diameters_mm'][{level!r}] must be a mapping, got {type(entry).__name__}")
        out[level] = {"transverse": entry.get("transverse"), "reason": entry.get("reason")}
    return {level: {level: d["transverse"], "reason": d["reason"]} for level, d in out.items()}


def _per_vein(tumor: Mapping[str, Any]) -> dict[str, float | None]:
    data = tumor.get("distance_upper_pole_to_hepatic_vein_mm")
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise InputError(f"facts['tumor']['distance_upper_pole_to_hepatic_vein_mm'] must be a mapping of "
                         f"right/middle/left, got {data!r}")
    return {side: _number(data, "tumor.distance_upper_pole_to_hepatic_vein_mm", side) for side in SIDES_HEPATIC}


def _range(data: Mapping[str, Any], section: str, key: str) -> tuple[float, float] | None:
    value = data.get(key)
    if value is None:
        return None
    if (isinstance(value, str) or not isinstance(value, Sequence | np.ndarray) or len(value) != 2
            or not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value)):
        raise InputError(f"{_where(section, key)} must be [low, high] or null, got {value!r}")
    return float(value[0]), float(value[1])


def _section(facts: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = facts.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InputError(f"facts[{name!r}] must be a mapping, got {type(value).__name__}")
    return value


def _where(section: str, key: str) -> str:
    return f"facts[{section!r}][{key!r}]"


def _bool(data: Mapping[str, Any], section: str, key: str) -> bool | None:
    value = data.get(key)
    if value is None or isinstance(value, bool | np.bool_):
        return None if value is None else bool(value)
    raise InputError(f"{_where(section, key)} must be true, false or null, got {value!r}")


def _number(data: Mapping[str, Any], section: str, key: str, low: float = -math.inf,
            high: float = math.inf) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise InputError(f"{_where(section, key)} must be a number or null, got {value!r}")
    number = float(value)
    if math.isnan(number):
        return None  # NaN in a report means "not measured"
    if not low <= number <= high:
        raise InputError(f"{_where(section, key)} = {value!r} is outside [{low:g}, {high:g}]")
    return number


def _string(data: Mapping[str, Any], section: str, key: str) -> str | None:
    value = data.get(key)
    if value is None or isinstance(value, str):
        return value
    raise InputError(f"{_where(section, key)} must be a string or null, got {value!r}")


def _strings(data: Mapping[str, Any], section: str, key: str) -> tuple[str, ...] | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, Sequence | np.ndarray) or not all(isinstance(v, str)
                                                                                           for v in value):
        raise InputError(f"{_where(section, key)} must be a list of strings or null, got {value!r}")
    return tuple(value)


def _choices(data: Mapping[str, Any], section: str, key: str, allowed: Sequence[str]) -> frozenset[str] | None:
    values = _strings(data, section, key)
    if values is None:
        return None
    bad = [v for v in values if v not in allowed]
    if bad:
        raise InputError(f"{_where(section, key)} has unknown value(s) {bad}; allowed: {list(allowed)}")
    return frozenset(values)


def _landmarks(data: Mapping[str, Any]) -> dict[str, LandmarkFact]:
    out: dict[str, LandmarkFact] = {}
    for name in LANDMARK_NAMES:
        entry = data.get(name)
        if entry is None:
            out[name] = LandmarkFact(None, None)
            continue
        if not isinstance(entry, Mapping):
            raise InputError(f"facts['landmarks'][{name!r}] must be a mapping, got {type(entry).__name__}")
        position = entry.get("position_mm")
        if position is not None and (isinstance(position, str) or not isinstance(position, Sequence | np.ndarray)
                                     or len(position) != 3):
            raise InputError(f"facts['landmarks'][{name!r}]['position_mm'] must be [x, y, z] or null, "
                             f"got {position!r}")
        confidence = _number(entry, f"landmarks.{name}", "confidence", 0.0, 1.0)
        out[name] = LandmarkFact(position is not None, confidence)
    return out
