"""Corrections: checking what a person sets, reading it back, replaying it, marking it in the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ivcplan.errors import InputError
from ivcplan.report import contract
from ivcplan.report.corrections import (
    EDITABLE_FIELDS,
    Correction,
    Overrides,
    clinical_correction,
    describe_field,
    field_correction,
    landmark_correction,
    mark_report,
    parse_clinical_text,
    parse_field_text,
    parse_landmark_text,
    read_corrections,
    write_corrections,
)

WHEN = "2026-12-01T09:30:00Z"


def test_every_editable_field_is_a_schema_field_with_a_described_type() -> None:
    schema = contract.schema()
    for name in EDITABLE_FIELDS:
        section, key = name.split(".")
        assert key in schema["properties"][section]["properties"], name
        assert describe_field(name), name
    assert describe_field("tumor.growth_pattern") == "intraluminal, extraluminal, both, null (unknown)"
    assert describe_field("tumor.segments") == "a comma-separated list of I, II, III, or none"


@pytest.mark.parametrize(("text", "value"), [
    ("tumor.hepatic_veins_invaded=middle,right", ["right", "middle"]),  # the schema's order
    ("tumor.hepatic_veins_invaded=none", []),
    ("tumor.renal_veins_involved=", []),
    ("tumor.present=false", False),
    ("tumor.collateral_return=TRUE", True),
    ("tumor.intracardiac=unknown", None),
    ("tumor.intracardiac_length_mm=12.5", 12.5),
    ("tumor.growth_pattern=both", "both"),
    ("liver.flr_ratio=0.31", 0.31),
])
def test_field_values_are_parsed_by_their_schema_type(text: str, value) -> None:
    name, _, raw = text.partition("=")
    assert parse_field_text(name, raw) == value


@pytest.mark.parametrize(("text", "message"), [
    ("tumor.hepatic_veins_invaded=top", "tumor.hepatic_veins_invaded: 'top' is not one of ['right', 'middle', 'left'] "
                                        "(allowed: a comma-separated list of right, middle, left, or none, "
                                        "or null (unknown))"),
    ("tumor.present=maybe", "tumor.present: expected true, false, got 'maybe'"),
    ("tumor.present=null", "tumor.present: expected true, false, got 'null'"),
    ("liver.flr_ratio=1.7",
     "liver.flr_ratio: 1.7 is greater than the maximum of 1 (allowed: a number, null (unknown))"),
    ("tumor.intracardiac_length_mm=long",
     "tumor.intracardiac_length_mm: expected a number, null (unknown), got 'long'"),
    ("tumor.volume_ml=12", "field 'tumor.volume_ml' cannot be set; editable fields: " + ", ".join(EDITABLE_FIELDS)),
])
def test_bad_field_values_name_the_field_and_what_it_takes(text: str, message: str) -> None:
    name, _, raw = text.partition("=")
    with pytest.raises(InputError) as err:
        parse_field_text(name, raw)
    assert str(err.value) == message


def test_landmarks_and_clinical_facts_are_checked() -> None:
    assert parse_landmark_text("renal_veins=-20.5, 3,118") == ("renal_veins", [-20.5, 3.0, 118.0])
    assert parse_landmark_text("cavoatrial_junction=none") == ("cavoatrial_junction", None)
    with pytest.raises(InputError, match=r"^unknown landmark 'renal_vien'; known: iliac_confluence, "):
        parse_landmark_text("renal_vien=1,2,3")
    with pytest.raises(InputError, match=r"^landmark renal_veins: position must be three finite numbers X,Y,Z "
                                         r"\(LPS mm\) or none, got \[1.0, 2.0\]$"):
        parse_landmark_text("renal_veins=1,2")
    with pytest.raises(InputError, match=r"^landmark renal_veins: position must be three numbers"):
        parse_landmark_text("renal_veins=a,b,c")
    with pytest.raises(InputError, match=r"^'renal_veins': expected NAME=X,Y,Z or NAME=none$"):
        parse_landmark_text("renal_veins")
    assert parse_clinical_text("prior_chemotherapy", "yes") is True
    assert parse_clinical_text("liver_fibrosis", "unknown") is None
    with pytest.raises(InputError, match=r"^unknown clinical fact 'cirrhosis'; known: prior_chemotherapy, "
                                         r"liver_fibrosis, weight_kg$"):
        parse_clinical_text("cirrhosis", "true")
    with pytest.raises(InputError, match=r"clinical.liver_fibrosis must be true, false or null, got 'severe'"):
        parse_clinical_text("liver_fibrosis", "severe")
    with pytest.raises(InputError, match=r"^by: say who made the correction, got ' '$"):
        landmark_correction("renal_veins", [0, 0, 0], by=" ")
    # Times are UTC as the schema has them (what the report validates).
    with pytest.raises(InputError, match=r"^when: must be a UTC ISO 8601 time such as 2026-01-31T08:15:00Z, got "
                                         r"'2026-12-01T09:30:00\+01:00'$"):
        field_correction("tumor.present", True, by="A", when="2026-12-01T09:30:00+01:00")
    assert field_correction("tumor.present", True, by="A").when.endswith("Z")


def test_the_last_correction_of_a_field_wins_and_all_are_kept() -> None:
    a = landmark_correction("renal_veins", [1, 2, 3], by="A", when=WHEN)
    b = field_correction("tumor.present", False, by="B", when=WHEN, why="pathology: bland thrombus")
    c = landmark_correction("renal_veins", [4, 5, 6], by="C", when=WHEN)
    d = clinical_correction("prior_chemotherapy", True, by="D", when=WHEN)
    over = Overrides.of([a, b, c, d])
    assert over.landmarks == {"renal_veins": c}
    assert over.fields == {"tumor.present": b}
    assert over.clinical == {"prior_chemotherapy": d}
    assert (a.kind, a.name, b.kind, b.name, d.kind, d.name) == (
        "landmark", "renal_veins", "field", "tumor.present", "clinical", "prior_chemotherapy")


def test_corrections_json_round_trip_and_its_errors(tmp_path: Path) -> None:
    items = (landmark_correction("hepatic_veins", [-20, -10, 210], by="Dr A", when=WHEN, why="MRI"),
             field_correction("tumor.hepatic_veins_invaded", ["right"], by="Dr B", when=WHEN))
    items = tuple(Correction(c.what, c.new, "old value", c.by, c.when, c.why) for c in items)
    path = write_corrections(items, tmp_path / "corrections.json")
    assert read_corrections(path) == items
    assert read_corrections(tmp_path / "absent.json") == ()
    data = json.loads(path.read_text())
    data["corrections"][1]["new"] = ["top"]
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"corrections\[1\]: tumor.hepatic_veins_invaded: 'top' is not one of"):
        read_corrections(path)
    data["corrections"][1]["new"] = ["right"]
    data["corrections"][0]["when"] = "2026-12-01 09:30"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"corrections\[0\]: 'when' must be a UTC ISO 8601 time"):
        read_corrections(path)
    path.write_text("{}")
    with pytest.raises(InputError, match=r"not an ivcplan corrections file"):
        read_corrections(path)


def test_the_report_marks_every_edited_value(tmp_path: Path) -> None:
    report = {
        "landmarks": {"renal_veins": {"position_mm": [1.0, 2.0, 3.0], "s_mm": 5.0, "confidence": 1.0,
                                      "detail": "placed", "source": "edited"}},
        "tumor": {"present": True, "hepatic_veins_invaded": []},
        "liver": {"volume_ml": 1500.0},
        "clinical": {"prior_chemotherapy": None, "liver_fibrosis": None},
    }
    items = [landmark_correction("renal_veins", [1, 2, 3], by="Dr A", when=WHEN, why="MRI"),
             field_correction("tumor.hepatic_veins_invaded", ["right"], by="Dr B", when=WHEN),
             clinical_correction("liver_fibrosis", True, by="Dr C", when=WHEN, why="biopsy")]
    mark_report(report, items)
    assert report["landmarks"]["renal_veins"]["edited"] == {"by": "Dr A", "when": WHEN, "why": "MRI"}
    assert report["tumor"]["hepatic_veins_invaded"] == ["right"]
    assert report["tumor"]["edited"] == {"hepatic_veins_invaded": {"by": "Dr B", "when": WHEN, "why": None,
                                                                   "unedited": []}}
    assert report["clinical"] == {"prior_chemotherapy": None, "liver_fibrosis": True, "edited": {
        "liver_fibrosis": {"by": "Dr C", "when": WHEN, "why": "biopsy", "unedited": None}}}
    assert "edited" not in report["liver"]
    assert [c["what"] for c in report["corrections"]] == [
        "landmarks.renal_veins.position_mm", "tumor.hepatic_veins_invaded", "clinical.liver_fibrosis"]
    # The CSV row keeps the values, not the edit records (they are in report.json and corrections.json).
    row = contract.csv_row(report)
    assert row["tumor.hepatic_veins_invaded"] == "right" and row["landmarks.renal_veins.source"] == "edited"
    assert not [k for k in row if "edited" in k.split(".")]


def test_the_report_doc_names_every_editable_field() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "report.md").read_text()
    section = text[text.index("## Corrections"):]
    assert [name for name in EDITABLE_FIELDS if f"`{name}`" not in section] == []

