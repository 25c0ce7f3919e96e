"""The report document (one template -> HTML and PDF) read as a tumor board reads it.

Sample case (b) (retrohepatic leiomyosarcoma, ELRA with a right hepatectomy) is analysed from its DICOM
with its truth labels, its images rendered, and the HTML and the PDF written once (shared across the
xdist workers through a lock file). The PDF is read with pdfplumber (positions, font sizes, images) and
pdftotext; the HTML with the standard library's parser (visible text only).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pdfplumber
import pytest

from ivcplan import __version__
from ivcplan import vocabulary as words
from ivcplan.render._vtk import print_info
from ivcplan.report.html import render_html
from ivcplan.report.pdf import write_pdf
from ivcplan.report.summary import RULE_TITLES

SAMPLES = Path(__file__).resolve().parents[2] / "sample_dicom"
CASE = "case_b_retrohepatic"
#: Smallest type allowed on paper, points (issue 22: legible when printed).
MIN_PRINT_PT = 8.0
#: pdfplumber reports a glyph's size to about 1e-3 pt.
PT_TOL = 0.01
#: The header's baseline lies within the top margin (20 mm = 56.7 pt), the page number in the bottom one (17 mm).
TOP_MARGIN_PT = 56.7
BOTTOM_MARGIN_PT = 48.2


class _Text(HTMLParser):
    """The text a browser shows: no <style>, <title> or attribute values."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0
        self.headings: list[str] = []
        self._in_h2 = False

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "title", "script"):
            self._hidden += 1
        if tag == "h2":
            self._in_h2 = True
            self.headings.append("")

    def handle_endtag(self, tag):
        if tag in ("style", "title", "script"):
            self._hidden -= 1
        if tag == "h2":
            self._in_h2 = False

    def handle_data(self, data):
        if not self._hidden:
            self.parts.append(data)
            if self._in_h2:
                self.headings[-1] += data

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.parts).split())


def _visible(html: str) -> _Text:
    parser = _Text()
    parser.feed(html)
    return parser


def _flat(text: str) -> str:
    """One line; a word hyphenated at a line end ("en-\\nbloc") joined again."""
    return " ".join(text.replace("-\n", "-").split())


def _images(report: dict, folder: Path) -> dict[str, Path]:
    return {key: Path(p) for key, p in json.loads((folder / "images.json").read_text()).items()}


@pytest.fixture(scope="session")
def documents(tmp_path_factory) -> Path:
    """Folder with report.json, images.json (key -> PNG), images/, report.html and report.pdf of case (b)."""
    base = tmp_path_factory.getbasetemp()
    # under xdist each worker's folder sits in the run's folder: one copy per run, never from an earlier run
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "document_case_b"
    root.mkdir(exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the first xdist worker writes, the others wait and read
        if not (root / "done").exists():
            from ivcplan import pipeline
            from ivcplan.outputs import Shared
            from ivcplan.report.html import write_html

            analysis = pipeline.run(SAMPLES / CASE / "dicom", labels=SAMPLES / CASE / "truth.nii.gz")
            images = {k: str(v) for k, v in Shared(analysis, root).images.items()}
            (root / "report.json").write_text(json.dumps(analysis.report))
            (root / "images.json").write_text(json.dumps(images))
            write_html(analysis.report, images, root / "report.html")
            write_pdf(analysis.report, images, root / "report.pdf")
            (root / "done").touch()
    return root


@pytest.fixture(scope="session")
def report(documents) -> dict:
    return json.loads((documents / "report.json").read_text())


@pytest.fixture(scope="session")
def html(documents) -> str:
    return (documents / "report.html").read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def html_text(html) -> str:
    return _visible(html).text


@pytest.fixture(scope="session")
def pdf_text(documents) -> str:
    """The PDF's text in content order (each table cell whole), on one line."""
    raw = subprocess.run(["pdftotext", "-raw", str(documents / "report.pdf"), "-"], check=True,
                         capture_output=True, text=True).stdout
    return _flat(raw)


@pytest.fixture(scope="session")
def texts(html_text, pdf_text) -> dict[str, str]:
    return {"html": html_text, "pdf": pdf_text}


def test_the_case_is_an_elra_with_a_right_hepatectomy(report):
    plan = report["plan"]
    assert plan["approach"] == "elra" and plan["liver_resection"] == "right_hepatectomy"
    assert plan["vascular_control"] == "total_vascular_exclusion" and plan["ivc_reconstruction"] == "graft"
    assert plan["anhepatic_support"] and plan["remnant"]["liver_resection"] == "right_hepatectomy"


@pytest.mark.parametrize("kind", ["html", "pdf"])
def test_the_whole_plan_in_words(texts, report, kind):
    text = texts[kind]
    plan = report["plan"]
    remnant = plan["remnant"]
    expected = [
        "Approach Ex-vivo liver resection and autotransplantation (ELRA)",
        "Vascular control total hepatic vascular exclusion",
        "Upper clamp Intrapericardial or suprahepatic control of the IVC",
        f"IVC reconstruction ringed PTFE interposition graft, {plan['graft_diameter_mm']:.1f} mm diameter",
        "Right renal vein preserved (inflow free)",
        "Left renal vein preserved (inflow free)",
        "Liver resection Right hepatectomy on the back table; the left liver is autotransplanted",
        # the remnant says which resection it assumes, and its numbers
        f"Future liver remnant assumed Left liver {remnant['remnant_ml']:.0f} ml = "
        f"{100 * remnant['remnant_ratio']:.1f} % of the {remnant['liver_volume_ml']:.0f} ml liver",
        "Anhepatic phase support",
        "Cardiopulmonary bypass on standby",
    ]
    for phrase in expected:
        assert phrase in text, f"{kind}: {phrase!r} missing"
    for option in plan["anhepatic_support"]:
        name = words.SUPPORT[option["method"]]
        assert name[:1].upper() + name[1:] in text, f"{kind}: anhepatic support {option['method']} not in words"


@pytest.mark.parametrize("kind", ["html", "pdf"])
def test_why_each_rule_fired_or_did_not(texts, report, kind):
    text = texts[kind]
    plan = report["plan"]
    assert plan["rules"] and plan["rules_not_fired"]
    for rule in plan["rules"]:
        assert f"{rule['id']}: {RULE_TITLES[rule['id']]}" in text, rule["id"]
        assert " ".join(rule["text"].split()) in text, f"{kind}: text of {rule['id']}"
    assert "Rules that did not fire, and why" in text
    for entry in plan["rules_not_fired"]:
        reason = entry["reason"][:1].upper() + entry["reason"][1:]
        assert f"{entry['id']}: {RULE_TITLES[entry['id']]} {reason}" in text, f"{kind}: {entry['id']} {reason!r}"


@pytest.mark.parametrize("kind", ["html", "pdf"])
def test_confidence_and_distances_in_words(texts, report, kind):
    text = texts[kind]
    assert f"IVC found {report['ivc']['confidence']:.2f}" in text
    assert f"Tumor found {report['tumor']['confidence']:.2f}" in text
    # the tumor's poles as distances in words, with the landmark named
    # (docs/design.md: an upper-pole distance is positive below the landmark, a lower-pole one above it)
    tumor = report["tumor"]
    junction = tumor["distance_upper_pole_to_cavoatrial_junction_mm"]
    hiatus = tumor["distance_upper_pole_to_caval_hiatus_mm"]
    renal = tumor["distance_lower_pole_to_renal_veins_mm"]
    assert hiatus < 0 < junction and renal > 0  # this case: the upper pole between hiatus and atrium
    assert f"Upper pole {junction:.0f} mm below the cavoatrial junction" in text
    assert f"Upper pole {-hiatus:.0f} mm above the caval hiatus" in text
    assert f"Lower pole {renal:.0f} mm above the renal veins" in text
    # no signed distance reaches the reader
    signed = re.findall(r"(?<![\w.)])[-\u2212]\d+(?:\.\d+)? ?mm\b", text)
    assert not signed, f"{kind}: signed distances {signed[:5]}"


@pytest.mark.parametrize("kind", ["html", "pdf"])
def test_no_internal_tokens(texts, report, kind):
    text = texts[kind]
    plan = report["plan"]
    # identifiers (the plan's values with an underscore, and "elra" in lower case); plain words such as
    # "graft" or "patch" are English
    tokens = {"elra", "infrahepatic_clamping", "total_vascular_exclusion", "right_hepatectomy", "renal_veins",
              "max_stenosis_pct", "cavoatrial_junction", *(k for k in words.LABEL_NAMES if "_" in k)}
    # the label importer's note names the structures read from truth.nii.gz: by their names
    assert "IVC lumen, IVC tumor, aorta, liver, right kidney" in text
    for value in (plan["approach"], plan["vascular_control"], plan["ivc_reconstruction"], plan["liver_resection"],
                  *plan["renal_vein_handling"].values(), *(o["method"] for o in plan["anhepatic_support"])):
        if "_" in value:
            tokens.add(value)
    found = sorted(t for t in tokens if re.search(rf"(?<![\w-]){re.escape(t)}(?![\w-])", text))
    assert not found, f"{kind}: internal values shown: {found}"
    for mark in ("[S]", "[GK]", "None", "nan", "True", "False"):
        assert not re.search(rf"(?<!\w){re.escape(mark)}(?!\w)", text), f"{kind}: {mark!r} shown"


@pytest.mark.parametrize("kind", ["html", "pdf"])
def test_references_disclaimer_and_provenance(texts, report, kind):
    text = texts[kind]
    plan, prov = report["plan"], report["provenance"]
    assert plan["references"]
    assert "References" in text
    for i, ref in enumerate(plan["references"], start=1):
        citation = " ".join(ref["citation"].split())
        assert citation[:60] in text, f"{kind}: reference {i} {citation[:40]!r}"
    # the references are cited by number from the rules that use them
    cited = {n for rule in plan["rules"] for n in range(1, len(plan["references"]) + 1)
             if plan["references"][n - 1]["key"] in rule.get("references", [])}
    for n in cited:
        assert f"[{n}]" in text
    assert text.count(" ".join(plan["disclaimer"].split())) >= 2  # at the top and at the end
    assert f"ivcplan {__version__}" in text and prov["ivcplan_version"] == __version__
    assert prov["rules_sha256"] in text
    assert "plan_rules.toml (shipped with ivcplan)" in text and "/" not in prov["rules_file"]
    assert f"Patient ID {prov['patient_id']}" in text
    date = prov["study_date"]
    assert f"Study date {date[:4]}-{date[4:6]}-{date[6:]}" in text
    stamp = prov["created_utc"]
    assert f"Report created {stamp[:10]} {stamp[11:16]} UTC" in text


def test_pdf_pages_carry_header_and_numbers(documents, report):
    prov = report["provenance"]
    stamp = prov["created_utc"]
    with pdfplumber.open(documents / "report.pdf") as pdf:
        n = len(pdf.pages)
        assert n >= 3
        for i, page in enumerate(pdf.pages, start=1):
            top = page.crop((0, 0, page.width, TOP_MARGIN_PT)).extract_text() or ""
            bottom = page.crop((0, page.height - BOTTOM_MARGIN_PT, page.width, page.height)).extract_text() or ""
            assert f"Patient ID: {prov['patient_id']}" in top, f"page {i} header: {top!r}"
            assert f"Report: {stamp[:10]} {stamp[11:16]} UTC" in top, f"page {i} header: {top!r}"
            assert f"Page {i} of {n}" in bottom, f"page {i} footer: {bottom!r}"
            assert f"ivcplan {__version__}" in bottom and prov["rules_sha256"][:12] in bottom


def test_pdf_no_text_under_8_pt_and_nothing_outside_the_page(documents):
    with pdfplumber.open(documents / "report.pdf") as pdf:
        for i, page in enumerate(pdf.pages, start=1):
            assert page.chars, f"page {i} has no text"
            small = [(c["text"], round(c["size"], 2)) for c in page.chars if c["size"] < MIN_PRINT_PT - PT_TOL]
            assert not small, f"page {i}: text under {MIN_PRINT_PT} pt: {small[:10]}"
            for obj in (*page.chars, *page.images, *page.rects):
                assert obj["x0"] >= 0 and obj["top"] >= 0, f"page {i}: {obj.get('text', 'object')} off the page"
                assert obj["x1"] <= page.width + 0.5 and obj["bottom"] <= page.height + 0.5, \
                    f"page {i}: {obj.get('text', 'object')} at {obj['x1']:.0f},{obj['bottom']:.0f} off the page"
            # nothing of the body runs into the 15 mm side margins (the UID and the hash wrap)
            body = [c for c in page.chars if TOP_MARGIN_PT < c["top"] < page.height - BOTTOM_MARGIN_PT]
            assert all(c["x1"] <= page.width - 15 / 25.4 * 72 + 1 for c in body), f"page {i}: text in the margin"


def test_pdf_figures_printed_with_type_of_at_least_8_pt(documents, report):
    images = _images(report, documents)
    # each PNG records its smallest text in pixels; the PDF says how wide each is printed
    figures = []
    for key, path in images.items():
        _, text_px = print_info(path)
        assert text_px is not None, f"{key}: the PNG does not record its smallest text"
        figures.append((key, _png_width(path), text_px))
    placed = 0
    with pdfplumber.open(documents / "report.pdf") as pdf:
        for page in pdf.pages:
            for img in page.images:
                width_px = img["srcsize"][0]
                pt_per_px = (img["x1"] - img["x0"]) / width_px
                # figures of the same pixel width (the three 3D views) are all held to the limit
                match = [(key, px) for key, width, px in figures if width == width_px]
                assert match, f"an image {width_px} px wide that is none of the figures"
                for key, text_px in match:
                    assert text_px * pt_per_px >= MIN_PRINT_PT - PT_TOL, \
                        f"{key}: smallest text {text_px * pt_per_px:.1f} pt printed"
                placed += 1
    assert placed == len(images)


def _png_width(path: Path) -> int:
    from PIL import Image

    with Image.open(path) as img:
        return img.size[0]


def test_html_and_pdf_come_from_one_template(html, documents, pdf_text):
    parser = _visible(html)
    headings = [" ".join(h.split()) for h in parser.headings]
    assert headings[:3] == ["Patient, study and analysis", "Suggested plan", "Why: the decision rules"]
    at = 0
    for heading in headings:  # the same sections in the same order
        found = pdf_text.find(heading, at)
        assert found >= 0, f"{heading!r} not in the PDF after position {at}"
        at = found + len(heading)
    # the page rules of the PDF are in the HTML's own stylesheet (a browser prints the same header)
    assert "@top-left" in html and 'counter(page) " of " counter(pages)' in html


def test_conventional_plan_in_words(case):
    """The small synthetic case: conventional resection, clamped below the liver, no hepatectomy."""
    from ivcplan import pipeline

    report = pipeline.run(case.volume, labels=case.labelmap).report
    assert report["plan"]["approach"] == "conventional"
    text = _visible(render_html(report, {})).text
    assert "Approach Conventional (in-situ) resection of the IVC tumor" in text
    assert f"Vascular control {words.VASCULAR_CONTROL[report['plan']['vascular_control']]}" in text
    assert "Liver resection none suggested" in text
    assert "Anhepatic phase support" not in text
    assert "Patient ID not given" in text  # a CT from memory: no DICOM identity, said so


def test_anonymized_report_shows_no_identity(report):
    anonymous = json.loads(json.dumps(report))
    anonymous["provenance"].update(patient_id=None, study_date=None, accession_number=None, anonymized=True)
    html = render_html(anonymous, {})
    text = _visible(html).text
    assert report["provenance"]["patient_id"] not in html
    assert "Patient ID anonymized" in text and "Study date anonymized" in text


def test_edited_values_and_corrections_are_shown(report):
    """Issue 20's marks (landmark source "edited", a section's "edited" map, the "corrections" list)."""
    edited = json.loads(json.dumps(report))
    when = "2026-12-06T10:15:00Z"
    lm = edited["landmarks"]["renal_veins"]
    old = list(lm["position_mm"])
    lm["position_mm"] = [old[0], old[1], old[2] + 12.0]
    lm.update(source="edited", edited={"by": "Dr Rivera", "when": when, "why": "ostium seen on the coronal"})
    edited["clinical"]["weight_kg"] = 71.0
    edited["clinical"]["edited"] = {"weight_kg": {"by": "Dr Rivera", "when": when, "why": "from the chart",
                                                  "unedited": None}}
    edited["corrections"] = [
        {"what": "landmarks.renal_veins.position_mm", "old": old, "new": lm["position_mm"], "by": "Dr Rivera",
         "when": when, "why": "ostium seen on the coronal"},
        {"what": "clinical.weight_kg", "old": None, "new": 71.0, "by": "Dr Rivera", "when": when,
         "why": "from the chart"}]
    text = _visible(render_html(edited, {})).text
    assert "Values marked like this were set by a person, not measured" in text
    assert "Corrections" in text
    assert "edited by Dr Rivera, 2026-12-06 10:15 UTC: ostium seen on the coronal" in text
    assert "Body weight 71 kg edited by Dr Rivera, 2026-12-06 10:15 UTC: from the chart" in text
    new = ", ".join(f"{v:.0f}" for v in lm["position_mm"])
    assert "Renal veins (upper edge of the inflow, segment I/II boundary) position" in text
    assert f"({new}) mm Dr Rivera 2026-12-06 10:15 UTC ostium seen on the coronal" in text
    # an unedited report says nothing of edits
    plain = _visible(render_html(report, {})).text
    assert "edited by" not in plain and "Corrections" not in plain
