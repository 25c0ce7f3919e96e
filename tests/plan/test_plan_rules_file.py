"""The shipped rules file and the errors of invalid ones (file, line and problem)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from plan_facts import case_a

from ivcplan.errors import RulesError
from ivcplan.plan import DEFAULT_RULES_PATH, load_rules, suggest
from ivcplan.plan.rules import SCHEMA

DEFAULT_TEXT = DEFAULT_RULES_PATH.read_text(encoding="utf-8")


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line containing ``needle``."""
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    return path


def edited(old: str, new: str) -> str:
    assert old in DEFAULT_TEXT, old
    return DEFAULT_TEXT.replace(old, new, 1)


def test_default_rules_have_domain_thresholds_with_tag_and_source() -> None:
    rules = load_rules()
    # The defaults of shared/design/domain.md.
    expected = {"min_upper_pole_margin_mm": 10, "graft_ratio": 0.6, "graft_min_mm": 12, "graft_max_mm": 20,
                "patch_max_circumferential_deg": 180, "max_upper_pole_to_cavoatrial_junction_mm": 20,
                "puth_b_min_intracardiac_mm": 20, "min_flr_ratio": 0.30, "min_flr_ratio_compromised": 0.40}
    for name, value in expected.items():
        assert rules.value(name) == value
    assert sorted(rules.rules) == [f"R{i}" for i in range(1, 10)]
    for rule in rules.rules.values():
        assert rule.text and rule.source
        for name, threshold in rule.thresholds.items():
            assert threshold.tag in ("S", "GK", "project"), name
            assert threshold.source, name
    assert "{" not in rules.text("R6") and "20 mm" in rules.text("R6")


def test_user_rules_change_the_suggestion(tmp_path: Path) -> None:
    # Case (a)'s upper pole is 45 mm below the ostia: a 50 mm margin sends it to R5.
    text = edited("min_upper_pole_margin_mm = { value = 10.0", "min_upper_pole_margin_mm = { value = 50.0")
    path = write(tmp_path, text)
    plan = suggest(case_a(), load_rules(path))
    assert plan.approach == "conventional" and plan.vascular_control == "total_vascular_exclusion"
    assert plan.rules_file == str(path)
    assert "50 mm below" in plan.fired("R5").text


def test_bare_number_thresholds_are_accepted(tmp_path: Path) -> None:
    text = re.sub(r"graft_ratio = \{[^}]*\}", "graft_ratio = 0.5", DEFAULT_TEXT)
    plan = suggest(case_a(), load_rules(write(tmp_path, text)))
    assert plan.graft_diameter_mm == 12.5


def assert_error(path: Path, line: int | None, *fragments: str) -> None:
    with pytest.raises(RulesError) as info:
        load_rules(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    if line is not None:
        assert f"line {line}:" in message, message
    for fragment in fragments:
        assert fragment in message, message


def test_syntax_error_names_the_line(tmp_path: Path) -> None:
    text = edited('source = "[S] Truant 2007"', 'source = "[S] Truant 2007')
    assert_error(write(tmp_path, text), line_of(text, 'source = "[S] Truant 2007'), "TOML syntax error")


def test_unknown_rule_id(tmp_path: Path) -> None:
    text = DEFAULT_TEXT + '\n[R10]\ntext = "x"\nsource = "y"\n'
    assert_error(write(tmp_path, text), line_of(text, "[R10]"), "unknown rule id", "'R10'")


def test_unknown_key_in_rule(tmp_path: Path) -> None:
    text = edited('source = "[S] PUTH grading"', 'source = "[S] PUTH grading"\nputh_c_mm = 40')
    assert_error(write(tmp_path, text), line_of(text, "puth_c_mm"), "unknown key 'puth_c_mm' in [R7]")


def test_wrong_type(tmp_path: Path) -> None:
    text = re.sub(r"graft_ratio = \{[^}]*\}", 'graft_ratio = "0.6"', DEFAULT_TEXT)
    assert_error(write(tmp_path, text), line_of(text, "graft_ratio ="), "R3.graft_ratio must be a number", "str")


def test_boolean_is_not_a_number(tmp_path: Path) -> None:
    text = re.sub(r"min_flr_ratio = \{[^}]*\}", "min_flr_ratio = true", DEFAULT_TEXT)
    assert_error(write(tmp_path, text), line_of(text, "min_flr_ratio ="), "R8.min_flr_ratio must be a number")


def test_missing_threshold_names_the_rule_table(tmp_path: Path) -> None:
    text = re.sub(r"\nputh_b_min_intracardiac_mm = \{[^}]*\}", "", DEFAULT_TEXT)
    assert_error(write(tmp_path, text), line_of(text, "[R7]"), "missing the threshold 'puth_b_min_intracardiac_mm'")


def test_missing_rule_table(tmp_path: Path) -> None:
    text = re.sub(r"\[R4\]\ntext = [^\n]*\nsource = [^\n]*\n", "", DEFAULT_TEXT)
    assert "[R4]" not in text
    assert_error(write(tmp_path, text), None, "missing rule table [R4]")


@pytest.mark.parametrize(("old", "new", "key", "problem"), [
    ("min_flr_ratio = { value = 0.30", "min_flr_ratio = { value = 1.5", "min_flr_ratio =",
     "R8.min_flr_ratio = 1.5 is out of range [0, 1]"),
    ("min_upper_pole_margin_mm = { value = 10.0", "min_upper_pole_margin_mm = { value = -1.0",
     "min_upper_pole_margin_mm =", "out of range"),
    ("graft_min_mm = { value = 12.0", "graft_min_mm = { value = 22.0", "graft_min_mm =",
     "R3.graft_min_mm (22) must not exceed R3.graft_max_mm (20)"),
    ('tag = "project"', 'tag = "guess"', 'tag = "guess"', "tag must be one of S, GK, project"),
    ("{ value = 20.0, unit = \"mm\", tag = \"S\", source = \"PUTH",
     "{ val = 20.0, unit = \"mm\", tag = \"S\", source = \"PUTH", "puth_b_min_intracardiac_mm =", "unknown field"),
    ("{graft_min_mm}-{graft_max_mm}", "{graft_min_mm}-{graft_maximum}", "text = \"Circumferential",
     "quotes an unknown threshold {graft_maximum}"),
])
def test_semantic_errors_name_the_key_line(tmp_path: Path, old: str, new: str, key: str, problem: str) -> None:
    text = edited(old, new)
    assert_error(write(tmp_path, text), line_of(text, key), problem)


def test_empty_text_and_bad_schema(tmp_path: Path) -> None:
    text = edited('source = "[S] Chirurg 2001"', 'source = ""')
    assert_error(write(tmp_path, text), line_of(text, 'source = ""'), "R5.source must be a non-empty string")
    text = edited('schema = "ivcplan.rules/1"', 'schema = "other/2"')
    assert_error(write(tmp_path, text), line_of(text, "schema ="), "schema must be")


def test_missing_file(tmp_path: Path) -> None:
    assert_error(tmp_path / "nope.toml", None, "rules file not found")


def test_schema_covers_every_rule_of_the_file() -> None:
    ids = re.findall(r"^\[(R\d+)\]", DEFAULT_TEXT, flags=re.MULTILINE)
    assert ids == list(SCHEMA)
