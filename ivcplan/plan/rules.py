"""The rules file: R1-R9 with their texts, sources and thresholds, parsed and validated.

A rules file is TOML (see ``ivcplan/plan_rules.toml``, the shipped default). Every error names the
file, the line and the problem; semantic errors find the offending key's line in the text because
``tomllib`` keeps no positions.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ivcplan.errors import RulesError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser from PyPI (pyproject: python_version < "3.11")
    import tomli as tomllib

#: The rules file shipped with the package.
DEFAULT_RULES_PATH = Path(__file__).resolve().parent.parent / "plan_rules.toml"
SCHEMA_ID = "ivcplan.rules/1"
TAGS = ("S", "GK", "project")


@dataclass(frozen=True)
class Limit:
    """Allowed range of one threshold (inclusive)."""

    low: float
    high: float


#: Every rule id, its required thresholds with their allowed ranges, and its extra text keys.
SCHEMA: dict[str, dict[str, Limit]] = {
    "R1": {"min_upper_pole_margin_mm": Limit(0.0, 100.0)},
    "R2": {},
    "R3": {
        "graft_ratio": Limit(0.1, 1.5),
        "graft_min_mm": Limit(4.0, 40.0),
        "graft_max_mm": Limit(4.0, 40.0),
        "patch_max_circumferential_deg": Limit(0.0, 360.0),
    },
    "R4": {},
    "R5": {},
    "R6": {"max_upper_pole_to_cavoatrial_junction_mm": Limit(0.0, 200.0)},
    "R7": {"puth_b_min_intracardiac_mm": Limit(0.0, 200.0)},
    "R8": {"min_flr_ratio": Limit(0.0, 1.0), "min_flr_ratio_compromised": Limit(0.0, 1.0)},
    "R9": {"min_landmark_confidence": Limit(0.0, 1.0), "min_tumor_confidence": Limit(0.0, 1.0)},
}
EXTRA_TEXTS: dict[str, tuple[str, ...]] = {"R3": ("text_patch",)}
_THRESHOLD_KEYS = {"value", "unit", "tag", "source"}
_TOP_KEYS = {"schema", "disclaimer"}


@dataclass(frozen=True)
class Threshold:
    value: float
    unit: str = ""
    tag: str = ""
    source: str = ""


@dataclass(frozen=True)
class RuleDef:
    id: str
    text: str
    source: str
    thresholds: Mapping[str, Threshold]
    texts: Mapping[str, str] = field(default_factory=dict)  # extra texts, e.g. R3's "text_patch"


@dataclass(frozen=True)
class RuleSet:
    """Validated rules: ``rules[id]`` and ``value(name)`` for any threshold (names are unique)."""

    path: str
    disclaimer: str
    rules: Mapping[str, RuleDef]

    def value(self, name: str) -> float:
        for rule in self.rules.values():
            if name in rule.thresholds:
                return rule.thresholds[name].value
        raise KeyError(name)

    def text(self, rule_id: str, key: str = "text") -> str:
        """A rule's text with its ``{threshold}`` placeholders filled in."""
        rule = self.rules[rule_id]
        raw = rule.text if key == "text" else rule.texts[key]
        return _PLACEHOLDER.sub(lambda m: _fmt(self.value(m.group(1))), raw)

    def thresholds_of(self, rule_id: str) -> dict[str, float]:
        return {name: t.value for name, t in self.rules[rule_id].thresholds.items()}


_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_TOML_LINE = re.compile(r"at line (\d+)")


def _fmt(value: float) -> str:
    return f"{value:g}"


def load_rules(path: str | Path | None = None) -> RuleSet:
    """Read and validate a rules file (default: the one shipped with the package)."""
    file = DEFAULT_RULES_PATH if path is None else Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RulesError(f"{file}: rules file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(f"{file}: cannot read rules file: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_LINE.search(str(exc))
        line = f"line {match.group(1)}: " if match else ""
        raise RulesError(f"{file}: {line}TOML syntax error: {exc}") from None
    return _validate(data, _KeyLines(text), str(file))


class _KeyLines:
    """Line numbers of the tables and keys of a TOML text (for semantic error messages)."""

    _HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?")
    _KEY = re.compile(r"^\s*([A-Za-z0-9_.\-\"' ]+?)\s*=")

    def __init__(self, text: str) -> None:
        self.lines: dict[str, int] = {}
        table = ""
        for number, line in enumerate(text.splitlines(), start=1):
            header = self._HEADER.match(line)
            if header:
                table = self._clean(header.group(1))
                self.lines.setdefault(table, number)
                continue
            key = self._KEY.match(line)
            if key:
                dotted = f"{table}.{self._clean(key.group(1))}" if table else self._clean(key.group(1))
                self.lines.setdefault(dotted, number)

    @staticmethod
    def _clean(key: str) -> str:
        return ".".join(part.strip().strip("\"'") for part in key.split("."))

    def line(self, *path: str) -> int | None:
        """Line of the deepest known prefix of ``path`` (the key, else its table)."""
        for depth in range(len(path), 0, -1):
            found = self.lines.get(".".join(path[:depth]))
            if found is not None:
                return found
        return None


def _validate(data: Mapping[str, Any], lines: _KeyLines, file: str) -> RuleSet:
    def fail(problem: str, *path: str) -> RulesError:
        number = lines.line(*path)
        where = f"line {number}: " if number is not None else ""
        return RulesError(f"{file}: {where}{problem}")

    for key, value in data.items():
        if key in SCHEMA:
            if not isinstance(value, Mapping):
                raise fail(f"rule {key} must be a table [{key}], got {type(value).__name__}", key)
        elif key not in _TOP_KEYS:
            known = ", ".join(sorted(SCHEMA))
            raise fail(f"unknown rule id or key {key!r} (known rules: {known}; top-level keys: schema, disclaimer)",
                       key)
    schema = data.get("schema", SCHEMA_ID)
    if schema != SCHEMA_ID:
        raise fail(f"schema must be {SCHEMA_ID!r}, got {schema!r}", "schema")
    disclaimer = data.get("disclaimer")
    if not isinstance(disclaimer, str) or not disclaimer.strip():
        raise fail("disclaimer must be a non-empty string", "disclaimer")

    rules: dict[str, RuleDef] = {}
    for rule_id, limits in SCHEMA.items():
        table = data.get(rule_id)
        if table is None:
            raise fail(f"missing rule table [{rule_id}]")
        extras = EXTRA_TEXTS.get(rule_id, ())
        for key in table:
            if key not in limits and key not in ("text", "source", *extras):
                allowed = ", ".join(["text", "source", *extras, *limits])
                raise fail(f"unknown key {key!r} in [{rule_id}] (allowed: {allowed})", rule_id, key)
        texts = {}
        for key in ("text", "source", *extras):
            value = table.get(key)
            if value is None:
                raise fail(f"[{rule_id}] is missing {key!r}", rule_id)
            if not isinstance(value, str) or not value.strip():
                raise fail(f"{rule_id}.{key} must be a non-empty string, got {value!r}", rule_id, key)
            texts[key] = value
        thresholds = {name: _threshold(rule_id, name, table.get(name), limit, fail)
                      for name, limit in limits.items()}
        rules[rule_id] = RuleDef(rule_id, texts.pop("text"), texts.pop("source"), thresholds, texts)

    ruleset = RuleSet(file, disclaimer, rules)
    _check_consistency(ruleset, fail)
    return ruleset


def _threshold(rule_id: str, name: str, raw: Any, limit: Limit, fail: Any) -> Threshold:
    if raw is None:
        raise fail(f"[{rule_id}] is missing the threshold {name!r}", rule_id)
    meta: dict[str, Any] = {}
    if isinstance(raw, Mapping):
        unknown = set(raw) - _THRESHOLD_KEYS
        if unknown:
            raise fail(f"{rule_id}.{name}: unknown field(s) {sorted(unknown)} (allowed: value, unit, tag, source)",
                       rule_id, name)
        if "value" not in raw:
            raise fail(f"{rule_id}.{name}: missing 'value'", rule_id, name)
        meta = {k: raw[k] for k in ("unit", "tag", "source") if k in raw}
        for key, text in meta.items():
            if not isinstance(text, str):
                raise fail(f"{rule_id}.{name}.{key} must be a string, got {text!r}", rule_id, name)
        if "tag" in meta and meta["tag"] not in TAGS:
            raise fail(f"{rule_id}.{name}.tag must be one of {', '.join(TAGS)}, got {meta['tag']!r}", rule_id, name)
        raw = raw["value"]
    # bool is an int subclass in Python: refuse it explicitly.
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise fail(f"{rule_id}.{name} must be a number, got {type(raw).__name__} {raw!r}", rule_id, name)
    value = float(raw)
    if not math.isfinite(value) or not limit.low <= value <= limit.high:
        raise fail(f"{rule_id}.{name} = {raw!r} is out of range [{_fmt(limit.low)}, {_fmt(limit.high)}]",
                   rule_id, name)
    return Threshold(value, **meta)


def _check_consistency(ruleset: RuleSet, fail: Any) -> None:
    pairs = (("R3", "graft_min_mm", "graft_max_mm"), ("R8", "min_flr_ratio", "min_flr_ratio_compromised"))
    for rule_id, low, high in pairs:
        if ruleset.value(low) > ruleset.value(high):
            raise fail(f"{rule_id}.{low} ({_fmt(ruleset.value(low))}) must not exceed {rule_id}.{high} "
                       f"({_fmt(ruleset.value(high))})", rule_id, low)
    for rule in ruleset.rules.values():
        for key, raw in (("text", rule.text), *rule.texts.items()):
            for name in _PLACEHOLDER.findall(raw):
                try:
                    ruleset.value(name)
                except KeyError:
                    raise fail(f"{rule.id}.{key} quotes an unknown threshold {{{name}}}", rule.id, key) from None
