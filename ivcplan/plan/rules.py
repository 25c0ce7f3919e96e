"""The rules file: R1-R9 with their texts, sources, references and thresholds, parsed and validated.

A rules file is TOML (see ``ivcplan/plan_rules.toml``, the shipped default). Its ``[references]``
table is the one list of publications the rules rest on; a rule or a threshold names them by key.
Every error names the file, the line and the problem; semantic errors find the offending key's
line in the text because ``tomllib`` keeps no positions.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ivcplan.errors import RulesError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser from PyPI (pyproject: python_version < "3.11")
    import tomli as tomllib

#: The rules file shipped with the package.
DEFAULT_RULES_PATH = Path(__file__).resolve().parent.parent / "plan_rules.toml"
SCHEMA_ID = "ivcplan.rules/2"
#: What a threshold rests on, in the plain words the report prints.
BASES = ("published", "expert consensus", "project rule")
#: A rule without references must say in its source that it is one of these.
UNPUBLISHED_WORDS = ("expert consensus", "project rule")


@dataclass(frozen=True)
class Limit:
    """Allowed range of one threshold (inclusive)."""

    low: float
    high: float


#: Every rule id, its required thresholds with their allowed ranges, and its extra text keys.
SCHEMA: dict[str, dict[str, Limit]] = {
    "R1": {"min_upper_pole_margin_mm": Limit(0.0, 100.0), "min_clamp_room_below_liver_mm": Limit(0.0, 100.0)},
    "R2": {"min_occluded_length_mm": Limit(0.0, 200.0)},
    "R3": {
        "graft_ratio": Limit(0.1, 1.5),
        "graft_min_mm": Limit(4.0, 40.0),
        "graft_max_mm": Limit(4.0, 40.0),
        "patch_max_circumferential_deg": Limit(0.0, 360.0),
        "graft_margin_mm": Limit(0.0, 50.0),
    },
    "R4": {},
    "R5": {},
    "R6": {"max_upper_pole_to_cavoatrial_junction_mm": Limit(0.0, 200.0)},
    "R7": {"intracardiac_min_mm": Limit(0.0, 50.0), "puth_b_min_intracardiac_mm": Limit(0.0, 200.0),
           "hiatus_standby_margin_mm": Limit(0.0, 100.0)},
    "R8": {"min_flr_ratio": Limit(0.0, 1.0), "min_flr_ratio_chemotherapy": Limit(0.0, 1.0),
           "min_flr_ratio_fibrosis": Limit(0.0, 1.0), "min_remnant_body_weight_pct": Limit(0.0, 5.0)},
    "R9": {"min_landmark_confidence": Limit(0.0, 1.0), "min_tumor_confidence": Limit(0.0, 1.0)},
}
EXTRA_TEXTS: dict[str, tuple[str, ...]] = {"R1": ("text_mobilisation",), "R3": ("text_patch",),
                                           "R7": ("text_standby",)}
_THRESHOLD_KEYS = {"value", "unit", "basis", "references", "note"}
_TOP_KEYS = {"schema", "disclaimer", "references"}
_REFERENCE_KEYS = {"authors", "title", "journal", "year", "volume_pages", "doi", "pmid", "url", "checked"}
_REFERENCE_REQUIRED = ("authors", "title", "journal", "year", "checked")


@dataclass(frozen=True)
class Reference:
    """One publication: enough to find it (DOI or PMID where they were found), and what was checked."""

    key: str
    authors: str
    title: str
    journal: str
    year: int
    volume_pages: str = ""
    doi: str = ""
    pmid: str = ""
    url: str = ""
    checked: str = ""

    @property
    def citation(self) -> str:
        """Authors. Title. Journal Year;volume:pages. doi / PMID / URL (what was found)."""
        where = f"{self.journal} {self.year}" + (f";{self.volume_pages}" if self.volume_pages else "")
        ids = [f"doi:{self.doi}" if self.doi else "", f"PMID:{self.pmid}" if self.pmid else "", self.url]
        title = self.title if self.title.endswith((".", "?", "!")) else f"{self.title}."
        return f"{self.authors}. {title} {where}." + "".join(f" {i}." for i in ids if i)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "citation": self.citation, "doi": self.doi or None, "pmid": self.pmid or None,
                "url": self.url or None, "checked": self.checked}


@dataclass(frozen=True)
class Threshold:
    value: float
    unit: str = ""
    basis: str = ""
    references: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class RuleDef:
    id: str
    text: str
    source: str
    thresholds: Mapping[str, Threshold]
    texts: Mapping[str, str] = field(default_factory=dict)  # extra texts, e.g. R3's "text_patch"
    references: tuple[str, ...] = ()


@dataclass(frozen=True)
class RuleSet:
    """Validated rules: ``rules[id]`` and ``value(name)`` for any threshold (names are unique).

    ``path`` is where the file was read; ``name`` what a report shows (the file name, never a local
    absolute path) and ``sha256`` the hash of its bytes, which identifies it.
    """

    path: str
    disclaimer: str
    rules: Mapping[str, RuleDef]
    references: Mapping[str, Reference] = field(default_factory=dict)
    sha256: str = ""
    name: str = ""

    def value(self, name: str) -> float:
        for rule in self.rules.values():
            if name in rule.thresholds:
                return rule.thresholds[name].value
        raise KeyError(name)

    def threshold(self, name: str) -> Threshold:
        for rule in self.rules.values():
            if name in rule.thresholds:
                return rule.thresholds[name]
        raise KeyError(name)

    def text(self, rule_id: str, key: str = "text") -> str:
        """A rule's text with its ``{threshold}`` placeholders filled in."""
        rule = self.rules[rule_id]
        raw = rule.text if key == "text" else rule.texts[key]
        return _PLACEHOLDER.sub(lambda m: _fmt(self.value(m.group(1))), raw)

    def thresholds_of(self, rule_id: str) -> dict[str, float]:
        return {name: t.value for name, t in self.rules[rule_id].thresholds.items()}

    def references_of(self, rule_id: str) -> tuple[str, ...]:
        """The rule's references and its thresholds' references, in order, once each."""
        rule = self.rules[rule_id]
        keys = list(rule.references)
        for threshold in rule.thresholds.values():
            keys.extend(threshold.references)
        return tuple(dict.fromkeys(keys))


_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_TOML_LINE = re.compile(r"at line (\d+)")


def _fmt(value: float) -> str:
    return f"{value:g}"


def load_rules(path: str | Path | None = None) -> RuleSet:
    """Read and validate a rules file (default: the one shipped with the package)."""
    file = DEFAULT_RULES_PATH if path is None else Path(path)
    if file.exists() and not file.is_file():  # a pipe or device would block or never end: never opened
        raise RulesError(f"{file}: rules file is not a regular file (a folder, pipe or device): not read")
    try:
        raw = file.read_bytes()
        text = raw.decode("utf-8")
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
    ruleset = _validate(data, _KeyLines(text), str(file))
    # A report names the file, never a local absolute path: the hash identifies the content.
    name = f"{file.name} (shipped with ivcplan)" if path is None else file.name
    return replace(ruleset, sha256=hashlib.sha256(raw).hexdigest(), name=name)


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
            raise fail(f"unknown rule id or key {key!r} (known rules: {known}; top-level keys: schema, disclaimer, "
                       "references)", key)
    schema = data.get("schema", SCHEMA_ID)
    if schema != SCHEMA_ID:
        hint = " (rules files of ivcplan.rules/1 lack the references table and the new thresholds: start " \
               "from a copy of the shipped plan_rules.toml)" if schema == "ivcplan.rules/1" else ""
        raise fail(f"schema must be {SCHEMA_ID!r}, got {schema!r}{hint}", "schema")
    disclaimer = data.get("disclaimer")
    if not isinstance(disclaimer, str) or not disclaimer.strip():
        raise fail("disclaimer must be a non-empty string", "disclaimer")
    references = _references(data.get("references", {}), fail)

    rules: dict[str, RuleDef] = {}
    for rule_id, limits in SCHEMA.items():
        table = data.get(rule_id)
        if table is None:
            raise fail(f"missing rule table [{rule_id}]")
        extras = EXTRA_TEXTS.get(rule_id, ())
        for key in table:
            if key not in limits and key not in ("text", "source", "references", *extras):
                allowed = ", ".join(["text", "source", "references", *extras, *limits])
                raise fail(f"unknown key {key!r} in [{rule_id}] (allowed: {allowed})", rule_id, key)
        texts = {}
        for key in ("text", "source", *extras):
            value = table.get(key)
            if value is None:
                raise fail(f"[{rule_id}] is missing {key!r}", rule_id)
            if not isinstance(value, str) or not value.strip():
                raise fail(f"{rule_id}.{key} must be a non-empty string, got {value!r}", rule_id, key)
            texts[key] = value
        keys = _reference_keys(table.get("references"), references, fail, rule_id, "references")
        if not keys and not any(word in texts["source"].lower() for word in UNPUBLISHED_WORDS):
            raise fail(f"{rule_id} names no reference: its source must say 'expert consensus' or 'project rule' "
                       "in plain words", rule_id, "source")
        thresholds = {name: _threshold(rule_id, name, table.get(name), limit, references, fail)
                      for name, limit in limits.items()}
        rules[rule_id] = RuleDef(rule_id, texts.pop("text"), texts.pop("source"), thresholds, texts, keys)

    ruleset = RuleSet(file, disclaimer, rules, references)
    _check_consistency(ruleset, fail)
    return ruleset


def _references(table: Any, fail: Any) -> dict[str, Reference]:
    if not isinstance(table, Mapping):
        raise fail(f"references must be a table of [references.<key>] entries, got {type(table).__name__}",
                   "references")
    out: dict[str, Reference] = {}
    for key, entry in table.items():
        if not isinstance(entry, Mapping):
            raise fail(f"references.{key} must be a table", "references", key)
        unknown = sorted(set(entry) - _REFERENCE_KEYS)
        if unknown:
            raise fail(f"references.{key}: unknown field(s) {unknown} (allowed: {', '.join(sorted(_REFERENCE_KEYS))})",
                       "references", key, unknown[0])
        for name in _REFERENCE_REQUIRED:
            if name not in entry or entry[name] in ("", None):
                raise fail(f"references.{key} is missing {name!r}", "references", key)
        if isinstance(entry["year"], bool) or not isinstance(entry["year"], int):
            raise fail(f"references.{key}.year must be an integer, got {entry['year']!r}", "references", key, "year")
        for name in _REFERENCE_KEYS - {"year"}:
            if name in entry and not isinstance(entry[name], str):
                raise fail(f"references.{key}.{name} must be a string, got {entry[name]!r}", "references", key, name)
        doi = str(entry.get("doi", ""))
        if doi and not doi.startswith("10."):
            raise fail(f"references.{key}.doi must look like 10.xxxx/..., got {doi!r}", "references", key, "doi")
        pmid = str(entry.get("pmid", ""))
        if pmid and not pmid.isdigit():
            raise fail(f"references.{key}.pmid must be digits, got {pmid!r}", "references", key, "pmid")
        out[str(key)] = Reference(key=str(key), **{k: entry[k] for k in entry})
    return out


def _reference_keys(raw: Any, references: Mapping[str, Reference], fail: Any, *path: str) -> tuple[str, ...]:
    where = ".".join(path)
    if raw is None:
        return ()
    if isinstance(raw, str) or not isinstance(raw, list) or not all(isinstance(k, str) for k in raw):
        raise fail(f"{where} must be a list of reference keys, got {raw!r}", *path)
    unknown = [k for k in raw if k not in references]
    if unknown:
        raise fail(f"{where} names unknown reference(s) {unknown} (known: {', '.join(sorted(references)) or 'none'})",
                   *path)
    return tuple(raw)


def _threshold(rule_id: str, name: str, raw: Any, limit: Limit, references: Mapping[str, Reference],
               fail: Any) -> Threshold:
    if raw is None:
        raise fail(f"[{rule_id}] is missing the threshold {name!r}", rule_id)
    meta: dict[str, Any] = {}
    if isinstance(raw, Mapping):
        unknown = set(raw) - _THRESHOLD_KEYS
        if unknown:
            raise fail(f"{rule_id}.{name}: unknown field(s) {sorted(unknown)} (allowed: "
                       f"{', '.join(sorted(_THRESHOLD_KEYS))})", rule_id, name)
        if "value" not in raw:
            raise fail(f"{rule_id}.{name}: missing 'value'", rule_id, name)
        for key in ("unit", "basis", "note"):
            if key in raw:
                if not isinstance(raw[key], str):
                    raise fail(f"{rule_id}.{name}.{key} must be a string, got {raw[key]!r}", rule_id, name)
                meta[key] = raw[key]
        if "basis" in meta and meta["basis"] not in BASES:
            raise fail(f"{rule_id}.{name}.basis must be one of {', '.join(BASES)}, got {meta['basis']!r}",
                       rule_id, name)
        meta["references"] = _reference_keys(raw.get("references"), references, fail, rule_id, name)
        if meta.get("basis") == "published" and not meta["references"]:
            raise fail(f"{rule_id}.{name} is 'published' but names no reference", rule_id, name)
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
    pairs = (("R3", "graft_min_mm", "graft_max_mm"), ("R8", "min_flr_ratio", "min_flr_ratio_chemotherapy"),
             ("R8", "min_flr_ratio_chemotherapy", "min_flr_ratio_fibrosis"))
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
