"""The shipped rules file and the errors of invalid ones (file, line and problem)."""

from __future__ import annotations

import hashlib
import json
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


def test_default_rules_have_domain_thresholds_with_basis_and_references() -> None:
    rules = load_rules()
    # The defaults of shared/design/domain.md (revised 2026-12-06).
    expected = {"min_upper_pole_margin_mm": 10, "min_clamp_room_below_liver_mm": 10, "min_occluded_length_mm": 10,
                "graft_ratio": 0.6, "graft_min_mm": 12, "graft_max_mm": 20, "patch_max_circumferential_deg": 180,
                "graft_margin_mm": 10, "max_upper_pole_to_cavoatrial_junction_mm": 20, "intracardiac_min_mm": 1,
                "puth_b_min_intracardiac_mm": 20, "hiatus_standby_margin_mm": 20, "min_flr_ratio": 0.25,
                "min_flr_ratio_chemotherapy": 0.30, "min_flr_ratio_fibrosis": 0.40, "min_remnant_body_weight_pct": 0.5}
    for name, value in expected.items():
        assert rules.value(name) == value
    assert sorted(rules.rules) == [f"R{i}" for i in range(1, 10)]
    for rule in rules.rules.values():
        assert rule.text and rule.source
        if not rule.references:  # unpublished rules say so in plain words
            assert "expert consensus" in rule.source.lower() or "project rule" in rule.source.lower(), rule.id
        for name, threshold in rule.thresholds.items():
            assert threshold.basis in ("published", "expert consensus", "project rule"), name
            assert threshold.note, name
            assert (threshold.basis == "published") == bool(threshold.references), name
    assert "{" not in rules.text("R6") and "20 mm" in rules.text("R6")


def test_references_are_one_checkable_table() -> None:
    rules = load_rules()
    cited = {key for rid in rules.rules for key in rules.references_of(rid)}
    assert cited == set(rules.references)  # every reference is used, every citation resolves
    for ref in rules.references.values():
        assert ref.authors and ref.title and ref.journal and ref.year and ref.checked, ref.key
        assert ref.doi.startswith("10.") or ref.pmid.isdigit() or ref.url or "not found" in ref.checked \
            or "citation only" in ref.checked, ref.key
    # The sources the 2026-12-06 review could not find are gone.
    text = DEFAULT_TEXT.lower()
    for gone in ("rahbari", "chirurg 2001", "serrablo", "fox and taylor"):
        assert gone not in text
    assert rules.references["gaignard2020"].pmid == "32445073"
    assert rules.references["pantoja2019"].doi == "10.1016/j.avsg.2019.11.007"


def test_a_rule_without_references_must_say_so(tmp_path: Path) -> None:
    text = edited('references = ["kieffer2006"]\n', "references = []\n")
    text = text.replace("; the choice between clamping and exclusion by distance is expert consensus.", ".", 1)
    assert_error(write(tmp_path, text), line_of(text, "Kieffer 2006 (hepatic vascular exclusion"),
                 "R5 names no reference", "'expert consensus' or 'project rule'")


def test_unknown_reference_key(tmp_path: Path) -> None:
    text = edited('references = ["kieffer2006"]\n', 'references = ["chirurg2001"]\n')
    assert_error(write(tmp_path, text), line_of(text, 'references = ["chirurg2001"]'),
                 "unknown reference(s) ['chirurg2001']")


def test_published_threshold_needs_a_reference(tmp_path: Path) -> None:
    text = edited('basis = "published", references = ["puth2021"], ', 'basis = "published", ')
    assert_error(write(tmp_path, text), line_of(text, "puth_b_min_intracardiac_mm ="),
                 "R7.puth_b_min_intracardiac_mm is 'published' but names no reference")


def test_reference_needs_its_fields_and_a_real_doi(tmp_path: Path) -> None:
    text = edited('doi = "10.7759/cureus.31845"', 'doi = "cureus.31845"')
    assert_error(write(tmp_path, text), line_of(text, 'doi = "cureus.31845"'), "references.cureus2022.doi")
    text = edited('checked = "PubMed record: 200 adults', 'note = "PubMed record: 200 adults')
    assert_error(write(tmp_path, text), None, "references.cureus2022")


def test_user_rules_change_the_suggestion(tmp_path: Path) -> None:
    # Case (a)'s upper pole is 45 mm below the ostia: a 50 mm margin sends it to R5.
    text = edited("min_upper_pole_margin_mm = { value = 10.0", "min_upper_pole_margin_mm = { value = 50.0")
    path = write(tmp_path, text)
    plan = suggest(case_a(), load_rules(path))
    assert plan.approach == "conventional" and plan.vascular_control == "total_vascular_exclusion"
    # The report names the file and its hash, never the local absolute path.
    assert plan.rules_file == "rules.toml" and str(tmp_path) not in json.dumps(plan.to_dict())
    assert plan.rules_sha256 == hashlib.sha256(path.read_bytes()).hexdigest() != load_rules().sha256
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
    text = edited('source = "Project rule."', 'source = "Project rule.')
    assert_error(write(tmp_path, text), line_of(text, 'source = "Project rule.'), "TOML syntax error")


def test_unknown_rule_id(tmp_path: Path) -> None:
    text = DEFAULT_TEXT + '\n[R10]\ntext = "x"\nsource = "y"\n'
    assert_error(write(tmp_path, text), line_of(text, "[R10]"), "unknown rule id", "'R10'")


def test_unknown_key_in_rule(tmp_path: Path) -> None:
    text = edited('references = ["puth2021", "seed_b2023"]', 'references = ["puth2021", "seed_b2023"]\nputh_c_mm = 40')
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
    text = re.sub(r"\[R4\]\ntext = [^\n]*\nsource = [^\n]*\nreferences = [^\n]*\n", "", DEFAULT_TEXT)
    assert "[R4]" not in text
    assert_error(write(tmp_path, text), None, "missing rule table [R4]")


@pytest.mark.parametrize(("old", "new", "key", "problem"), [
    ("min_flr_ratio = { value = 0.25", "min_flr_ratio = { value = 1.5", "min_flr_ratio =",
     "R8.min_flr_ratio = 1.5 is out of range [0, 1]"),
    ("min_flr_ratio_chemotherapy = { value = 0.30", "min_flr_ratio_chemotherapy = { value = 0.45",
     "min_flr_ratio_chemotherapy =", "R8.min_flr_ratio_chemotherapy (0.45) must not exceed R8.min_flr_ratio_fibrosis"),
    ("min_upper_pole_margin_mm = { value = 10.0", "min_upper_pole_margin_mm = { value = -1.0",
     "min_upper_pole_margin_mm =", "out of range"),
    ("graft_min_mm = { value = 12.0", "graft_min_mm = { value = 22.0", "graft_min_mm =",
     "R3.graft_min_mm (22) must not exceed R3.graft_max_mm (20)"),
    ('basis = "project rule", note = "beyond voxel', 'basis = "guess", note = "beyond voxel',
     'basis = "guess"', "basis must be one of published, expert consensus, project rule"),
    ('puth_b_min_intracardiac_mm = { value = 20.0', 'puth_b_min_intracardiac_mm = { val = 20.0',
     "puth_b_min_intracardiac_mm =", "unknown field"),
    ("{graft_min_mm}-{graft_max_mm}", "{graft_min_mm}-{graft_maximum}", "text = \"Circumferential",
     "quotes an unknown threshold {graft_maximum}"),
])
def test_semantic_errors_name_the_key_line(tmp_path: Path, old: str, new: str, key: str, problem: str) -> None:
    text = edited(old, new)
    assert_error(write(tmp_path, text), line_of(text, key), problem)


def test_empty_text_and_bad_schema(tmp_path: Path) -> None:
    text = re.sub(r'(\[R5\]\ntext = [^\n]*\n)source = [^\n]*', r'\1source = ""', DEFAULT_TEXT)
    assert_error(write(tmp_path, text), line_of(text, 'source = ""'), "R5.source must be a non-empty string")
    text = edited('schema = "ivcplan.rules/2"', 'schema = "other/2"')
    assert_error(write(tmp_path, text), line_of(text, "schema ="), "schema must be")
    # A rules file of the first format says what to do.
    text = edited('schema = "ivcplan.rules/2"', 'schema = "ivcplan.rules/1"')
    assert_error(write(tmp_path, text), line_of(text, "schema ="), "copy of the shipped plan_rules.toml")


def test_missing_file(tmp_path: Path) -> None:
    assert_error(tmp_path / "nope.toml", None, "rules file not found")


def test_schema_covers_every_rule_of_the_file() -> None:
    ids = re.findall(r"^\[(R\d+)\]", DEFAULT_TEXT, flags=re.MULTILINE)
    assert ids == list(SCHEMA)


def test_docs_rules_page_is_current() -> None:
    """docs/rules.md lists every rule, threshold (with its value) and reference of the shipped file."""
    page = (Path(__file__).resolve().parents[2] / "docs" / "rules.md").read_text(encoding="utf-8")
    rules = load_rules()
    for rule_id, rule in rules.rules.items():
        assert f"| {rule_id} | {rules.text(rule_id)}" in page, rule_id
        for name, threshold in rule.thresholds.items():
            assert f"`{name}` = {threshold.value:g}" in page, name
    for key, ref in rules.references.items():
        assert f"**[{key}]** {ref.citation}" in page, key
