"""Corrections: what a person changed in an analysis, as recorded and replayed.

A correction sets one report field (``what``): a landmark's position
(``landmarks.<name>.position_mm``, LPS mm, or null to remove it), a fact of `EDITABLE_FIELDS`
(``tumor.hepatic_veins_invaded``...), a clinical fact (``clinical.<key>``), or the whole
``segmentation`` (labels imported or painted). It keeps the value before (``old``) and after
(``new``), who (``by``), when (UTC, ISO 8601) and why. Corrections are appended, never rewritten:
``corrections.json`` holds every one that led to an analysis, and `ivcplan replan` replays them in
order (the last one of a field wins) on top of what the measurement finds, so a replan of a replan
keeps the earlier edits. Segmentation corrections are recorded but not replayed: the analysis'
segmentation.nii.gz already holds them.

In the report, every value a person set is marked: a landmark's dict has ``"source": "edited"``
(``"automatic"`` otherwise) and an ``edited`` entry; a section's scalar or list fields set by a
person are listed in that section's ``edited`` map (field -> who, when, why and the value the
analysis gave, ``unedited``); the top-level ``corrections`` list repeats them all.

Types and allowed values of the editable fields are those of ``schema.json``: one authority.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ivcplan.errors import InputError
from ivcplan.labels import CLAMP_LANDMARKS, LANDMARKS, Label
from ivcplan.report.contract import CLINICAL_KEYS, clinical_section, schema

CORRECTIONS_SCHEMA = "ivcplan.corrections/1"
#: The file an analysis folder keeps its corrections in.
CORRECTIONS_FILE = "corrections.json"
#: ``what`` of a segmentation correction.
SEGMENTATION = "segmentation"

#: Report fields a person may set (``ivcplan replan --set FIELD=VALUE``): the facts the planner reads
#: that other imaging (MRI, cavography), the operation or pathology may know better than the CT
#: segmentation. Positions and distances are not here: they follow the landmarks, which are edited
#: themselves. Each field's type and allowed values are schema.json's.
EDITABLE_FIELDS: tuple[str, ...] = (
    "tumor.present",
    "tumor.segments",
    "tumor.hepatic_veins_invaded",
    "tumor.hepatic_veins_abutting",
    "tumor.renal_veins_involved",
    "tumor.intracardiac",
    "tumor.intracardiac_length_mm",
    "tumor.complete_occlusion",
    "tumor.collateral_return",
    "tumor.max_circumferential_involvement_deg",
    "tumor.growth_pattern",
    "tumor.ivc_diameter_above_mm",
    "tumor.ivc_diameter_below_mm",
    "tumor.organs_invaded",
    "liver.volume_ml",
    "liver.flr_ml",
    "liver.flr_ratio",
    "liver.caudate_ml",
)
#: Editable fields whose items are structures: keys of `ivcplan.labels.Label` (schema.json says strings).
LABEL_KEY_FIELDS: tuple[str, ...] = ("tumor.organs_invaded",)
#: Every landmark a person may place: the IVC's (`ivcplan.labels.LANDMARKS`) and the clamp sites.
EDITABLE_LANDMARKS: tuple[str, ...] = (*LANDMARKS, *CLAMP_LANDMARKS)

#: Words read as "not known" (null) for a field that may be null, and as "no item" for a list.
NULL_WORDS = ("null", "none", "unknown")
_TRUE, _FALSE = ("true", "yes"), ("false", "no")
_POSITION = ".position_mm"


def utc_now() -> str:
    """The current time as the corrections record it: UTC, ISO 8601, to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Correction:
    """One human change: the report field it sets, its value before and after, who, when and why."""

    what: str
    new: Any
    old: Any = None
    by: str = ""
    when: str = field(default_factory=utc_now)
    why: str | None = None

    @property
    def kind(self) -> str:
        """``"landmark"``, ``"field"``, ``"clinical"`` or ``"segmentation"``."""
        if self.what == SEGMENTATION:
            return "segmentation"
        if self.what.startswith("landmarks."):
            return "landmark"
        if self.what.startswith("clinical."):
            return "clinical"
        return "field"

    @property
    def name(self) -> str:
        """The landmark name, the clinical key or the field (``tumor.present``) it sets."""
        if self.kind == "landmark":
            return self.what[len("landmarks."):-len(_POSITION)]
        if self.kind == "clinical":
            return self.what[len("clinical."):]
        return self.what

    def stamp(self) -> dict[str, Any]:
        """Who, when and why: the report's ``edited`` entries."""
        return {"by": self.by, "when": self.when, "why": self.why}

    def to_dict(self) -> dict[str, Any]:
        return {"what": self.what, "old": self.old, "new": self.new, **self.stamp()}

    @classmethod
    def from_dict(cls, data: Any, where: str = "correction") -> Correction:
        """A correction read back from JSON, checked like a new one (`InputError` naming ``where``)."""
        if not isinstance(data, Mapping):
            raise InputError(f"{where}: a correction must be an object, got {type(data).__name__}")
        missing = [k for k in ("what", "new", "by", "when") if k not in data]
        if missing:
            raise InputError(f"{where}: missing {', '.join(missing)}")
        unknown = sorted(set(data) - {"what", "old", "new", "by", "when", "why"})
        if unknown:
            raise InputError(f"{where}: unknown key(s) {unknown}")
        what, when = data["what"], data["when"]
        if not isinstance(when, str) or not _is_utc_time(when):
            raise InputError(f"{where}: 'when' must be a UTC ISO 8601 time such as 2026-01-31T08:15:00Z, got {when!r}")
        stamp = {"by": _check_by(data["by"], where), "when": when, "why": _check_why(data.get("why"), where)}
        if what == SEGMENTATION:
            if not isinstance(data["new"], Mapping):
                raise InputError(f"{where}: a segmentation correction's 'new' must be an object")
            return cls(SEGMENTATION, dict(data["new"]), data.get("old"), **stamp)
        if not isinstance(what, str):
            raise InputError(f"{where}: 'what' must be a report field name, got {what!r}")
        try:
            made = _correction_for(what, data["new"])
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None
        return cls(made.what, made.new, data.get("old"), **stamp)


_UTC_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")  # as schema.json's edit.when


def _is_utc_time(text: str) -> bool:
    if not _UTC_TIME.match(text):
        return False
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _check_when(when: str | None) -> str:
    if when is None:
        return utc_now()
    if not isinstance(when, str) or not _is_utc_time(when):
        raise InputError(f"when: must be a UTC ISO 8601 time such as 2026-01-31T08:15:00Z, got {when!r}")
    return when


def _check_by(by: Any, where: str = "by") -> str:
    if not isinstance(by, str) or not by.strip():
        raise InputError(f"{where}: say who made the correction, got {by!r}")
    return by.strip()


def _check_why(why: Any, where: str = "why") -> str | None:
    if why is not None and not isinstance(why, str):
        raise InputError(f"{where}: 'why' must be text or null, got {why!r}")
    return why.strip() or None if isinstance(why, str) else None


def _correction_for(what: str, new: Any) -> Correction:
    """A correction of ``what`` to ``new``, its value checked (no stamp yet)."""
    if what.startswith("landmarks.") and what.endswith(_POSITION):
        name = what[len("landmarks."):-len(_POSITION)]
        return Correction(what, check_landmark(name, new))
    if what.startswith("clinical."):
        key = what[len("clinical."):]
        return Correction(what, check_clinical(key, new))
    return Correction(what, check_field(what, new))


# -- building corrections (the library's entry points; the CLI and the viewer both use these) ------
def landmark_correction(name: str, position_mm: Sequence[float] | None, *, by: str, why: str | None = None,
                        when: str | None = None) -> Correction:
    """Place landmark ``name`` at ``position_mm`` (LPS mm) or remove it (None)."""
    return Correction(f"landmarks.{name}{_POSITION}", check_landmark(name, position_mm), by=_check_by(by),
                      when=_check_when(when), why=_check_why(why))


def field_correction(name: str, value: Any, *, by: str, why: str | None = None, when: str | None = None) -> Correction:
    """Set the report field ``name`` (one of `EDITABLE_FIELDS`) to ``value``."""
    return Correction(name, check_field(name, value), by=_check_by(by), when=_check_when(when),
                      why=_check_why(why))


def clinical_correction(key: str, value: Any, *, by: str, why: str | None = None,
                        when: str | None = None) -> Correction:
    """Set the clinical fact ``key`` (`ivcplan.report.contract.CLINICAL_KEYS`) to ``value``."""
    return Correction(f"clinical.{key}", check_clinical(key, value), by=_check_by(by), when=_check_when(when),
                      why=_check_why(why))


def segmentation_correction(old: Mapping[str, Any], new: Mapping[str, Any], *, by: str, why: str | None = None,
                            when: str | None = None) -> Correction:
    """The segmentation replaced (``old`` / ``new``: its digest, where the new one came from, what changed)."""
    return Correction(SEGMENTATION, dict(new), dict(old), by=_check_by(by), when=_check_when(when),
                      why=_check_why(why))


# -- checking values -------------------------------------------------------------------------------
def check_landmark(name: str, position_mm: Any) -> list[float] | None:
    """``position_mm`` as ``[x, y, z]`` (LPS mm, finite) or None; `InputError` for an unknown name or bad value."""
    if name not in EDITABLE_LANDMARKS:
        raise InputError(f"unknown landmark {name!r}; known: {', '.join(EDITABLE_LANDMARKS)}")
    if position_mm is None:
        return None
    try:
        values = [float(v) for v in position_mm]
    except (TypeError, ValueError):
        raise InputError(f"landmark {name}: position must be three numbers X,Y,Z (LPS mm) or none, "
                         f"got {position_mm!r}") from None
    if len(values) != 3 or isinstance(position_mm, str) or not all(math.isfinite(v) for v in values):
        raise InputError(f"landmark {name}: position must be three finite numbers X,Y,Z (LPS mm) or none, "
                         f"got {position_mm!r}")
    return values


def check_clinical(key: str, value: Any) -> Any:
    """``value`` for the clinical fact ``key``, checked by `ivcplan.report.contract.clinical_section`."""
    if key not in CLINICAL_KEYS:
        raise InputError(f"unknown clinical fact {key!r}; known: {', '.join(CLINICAL_KEYS)}")
    return clinical_section({key: value})[key]


def field_schema(name: str) -> dict[str, Any]:
    """schema.json's definition of the editable field ``name`` (its ``$defs`` attached)."""
    if name not in EDITABLE_FIELDS:
        raise InputError(f"field {name!r} cannot be set; editable fields: {', '.join(EDITABLE_FIELDS)}")
    section, key = name.split(".", 1)
    full = schema()
    return {"$defs": full["$defs"], **full["properties"][section]["properties"][key]}


def check_field(name: str, value: Any) -> Any:
    """``value`` for the editable field ``name`` if schema.json allows it (lists in the schema's order)."""
    import jsonschema

    sub = field_schema(name)
    errors = list(jsonschema.Draft202012Validator(sub).iter_errors(value))
    if errors:
        raise InputError(f"{name}: {_message(errors[0])} (allowed: {describe_field(name)})")
    if name in LABEL_KEY_FIELDS and value is not None:
        keys = [lab.key for lab in Label if lab is not Label.BACKGROUND]
        bad = [v for v in value if v not in keys]
        if bad:
            raise InputError(f"{name}: unknown structure(s) {bad} (allowed: {describe_field(name)})")
    order = _types(name)[2].get("enum") if isinstance(value, list) else None
    return [v for v in order if v in value] if order else value


def _message(error: Any) -> str:
    """jsonschema's message, or for a value matching no alternative of a oneOf, the reason of the closest."""
    if error.validator == "oneOf" and error.context:
        # An alternative of another type (a list is "not of type null") says less than one whose type fits.
        fitting = [e for e in error.context if e.validator != "type"] or list(error.context)
        return min(fitting, key=lambda e: len(e.absolute_schema_path)).message
    return error.message


def _resolve(root: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in node:
        node = root["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _types(name: str) -> tuple[set[str], list[Any] | None, Mapping[str, Any]]:
    """(JSON types, enum values or None, items schema) of an editable field (alternatives of a oneOf joined)."""
    sub = field_schema(name)
    types: set[str] = set()
    enum: list[Any] | None = None
    items: Mapping[str, Any] = {}
    for node in [_resolve(sub, n) for n in _resolve(sub, sub).get("oneOf", [])] or [_resolve(sub, sub)]:
        if "enum" in node:
            enum = list(node["enum"])
            types |= {"null" if v is None else "string" for v in enum}
        raw = node.get("type", [])
        types |= {raw} if isinstance(raw, str) else set(raw)
        if "items" in node:
            items = _resolve(sub, node["items"])
    return types, enum, items


def describe_field(name: str) -> str:
    """The values ``name`` takes, in words (for messages and ``--help``)."""
    types, enum, items = _types(name)
    if "array" in types:
        choices = items.get("enum") or ([lab.key for lab in Label if lab is not Label.BACKGROUND]
                                        if name in LABEL_KEY_FIELDS else None)
        text = f"a comma-separated list of {', '.join(choices)}, or none" if choices else "a comma-separated list"
        return text + (", or null (unknown)" if "null" in types else "")
    words = []
    if enum is not None:
        words += [str(v) for v in enum if v is not None]
    if "boolean" in types:
        words += ["true", "false"]
    if "number" in types or "integer" in types:
        words.append("a number")
    if "null" in types:
        words.append("null (unknown)")
    return ", ".join(words)


def parse_field_text(name: str, text: str) -> Any:
    """The value of ``--set name=text`` (booleans, numbers, lists, null words), checked."""
    types, _, _ = _types(name)
    word = text.strip()
    low = word.lower()
    if "array" in types and low in ("null", "unknown") and "null" in types:
        value: Any = None
    elif "array" in types:
        value = [] if low == "none" or not word else [part.strip() for part in word.split(",") if part.strip()]
    elif low in NULL_WORDS and "null" in types:
        value = None
    elif "boolean" in types:
        value = _bool_word(name, low)
    elif types & {"number", "integer"}:
        try:
            value = float(word)
        except ValueError:
            raise InputError(f"{name}: expected {describe_field(name)}, got {text!r}") from None
        if not math.isfinite(value):
            raise InputError(f"{name}: expected a finite number, got {text!r}")
    else:
        value = word
    return check_field(name, value)


def _bool_word(name: str, low: str) -> bool:
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise InputError(f"{name}: expected {describe_field(name)}, got {low!r}")


def parse_clinical_text(key: str, text: str) -> Any:
    """The value of ``--clinical key=text``: true / false / null, or a number, checked by the contract."""
    low = text.strip().lower()
    value: Any
    if low in NULL_WORDS:
        value = None
    elif low in _TRUE or low in _FALSE:
        value = low in _TRUE
    else:
        try:
            value = float(low)
        except ValueError:
            value = text.strip()
    return check_clinical(key, value)


def parse_landmark_text(text: str) -> tuple[str, list[float] | None]:
    """``NAME=X,Y,Z`` (LPS mm) or ``NAME=none`` -> (name, position or None), checked."""
    name, value = split_assignment(text, "NAME=X,Y,Z or NAME=none")
    if value.strip().lower() in NULL_WORDS:
        return name, check_landmark(name, None)
    parts = [p.strip() for p in value.split(",")]
    check_landmark(name, None)  # the name first: an unknown one is the clearer message
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        raise InputError(f"landmark {name}: position must be three numbers X,Y,Z (LPS mm) or none, "
                         f"got {value!r}") from None
    return name, check_landmark(name, numbers)


def split_assignment(text: str, form: str) -> tuple[str, str]:
    """``KEY=VALUE`` -> (key, value); `InputError` showing the expected ``form`` otherwise."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise InputError(f"{text!r}: expected {form}")
    return key.strip(), value


# -- replaying -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Overrides:
    """The corrections in force: for each landmark, field and clinical fact, the last correction of it."""

    landmarks: Mapping[str, Correction] = field(default_factory=dict)
    fields: Mapping[str, Correction] = field(default_factory=dict)
    clinical: Mapping[str, Correction] = field(default_factory=dict)

    @classmethod
    def of(cls, corrections: Iterable[Correction]) -> Overrides:
        landmarks: dict[str, Correction] = {}
        fields: dict[str, Correction] = {}
        clinical: dict[str, Correction] = {}
        for c in corrections:
            {"landmark": landmarks, "field": fields, "clinical": clinical}.get(c.kind, {})[c.name] = c
        return cls(landmarks, fields, clinical)


def mark_report(report: dict[str, Any], corrections: Sequence[Correction]) -> None:
    """Put the corrections in force into ``report`` (before planning) and mark every value a person set.

    Fields and clinical facts take their corrected values, each listed in its section's ``edited``
    map with the value the analysis gave (``unedited``); an edited landmark (already placed by the
    measurement, ``source: edited``) gets its ``edited`` stamp; ``corrections`` lists them all.
    """
    overrides = Overrides.of(corrections)
    for name, c in overrides.landmarks.items():
        report["landmarks"][name]["edited"] = c.stamp()
    for name, c in overrides.fields.items():
        section, key = name.split(".", 1)
        part = report[section]
        part.setdefault("edited", {})[key] = {**c.stamp(), "unedited": part.get(key)}
        part[key] = c.new
    if overrides.clinical:
        part = report.setdefault("clinical", clinical_section(None))
        for key, c in overrides.clinical.items():
            part.setdefault("edited", {})[key] = {**c.stamp(), "unedited": part.get(key)}
            part[key] = c.new
    report["corrections"] = [c.to_dict() for c in corrections]


# -- corrections.json --------------------------------------------------------------------------------
def corrections_document(corrections: Sequence[Correction]) -> dict[str, Any]:
    return {"schema": CORRECTIONS_SCHEMA, "corrections": [c.to_dict() for c in corrections]}


def write_corrections(corrections: Sequence[Correction], path: str | os.PathLike) -> Path:
    path = Path(path)
    path.write_text(json.dumps(corrections_document(corrections), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return path


def read_corrections(path: str | os.PathLike) -> tuple[Correction, ...]:
    """The corrections of a ``corrections.json`` (an absent file: none); `InputError` naming the file."""
    path = Path(path)
    if not path.exists():
        return ()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read corrections: {exc}", path) from None
    if not isinstance(data, Mapping) or data.get("schema") != CORRECTIONS_SCHEMA \
            or not isinstance(data.get("corrections"), list):
        raise InputError(f"not an ivcplan corrections file (expected schema {CORRECTIONS_SCHEMA!r} and a "
                         "'corrections' list)", path)
    return tuple(Correction.from_dict(item, f"{path}: corrections[{i}]") for i, item in enumerate(data["corrections"]))
