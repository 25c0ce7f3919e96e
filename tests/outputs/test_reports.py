"""HTML and PDF reports and the pipeline output writers, on a real analysis of the synthetic case."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from dicom_series import write_ct_series
from imagecheck import assert_not_blank, load

from ivcplan import pipeline
from ivcplan.errors import InputError
from ivcplan.outputs import Shared, write_outputs
from ivcplan.report.html import render_html, write_html
from ivcplan.report.pdf import write_pdf

IMAGE_KEYS = {"scene_anterior", "scene_right", "scene_posterior", "volume", "axial", "coronal", "sagittal", "cpr",
              "profile"}


@pytest.fixture(scope="module")
def analysis(case):
    return pipeline.run(case.volume, labels=case.labelmap)


@pytest.fixture(scope="module")
def outdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("out")


@pytest.fixture(scope="module")
def images(analysis, outdir):
    return Shared(analysis, outdir).images


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.srcs: list[str] = []
        self.links: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.srcs.append(attrs.get("src", ""))
        for key in ("href", "src"):
            if key in attrs and tag != "img":
                self.links.append(attrs[key])

    def handle_data(self, data):
        self.text.append(data)


def test_every_image_is_made(images):
    assert set(images) == IMAGE_KEYS
    for path in images.values():
        assert_not_blank(load(path), min_colors=20)


def test_html_is_self_contained_and_complete(analysis, images, tmp_path):
    report = analysis.report
    path = write_html(report, images, tmp_path / "report.html")
    parser = _Collect()
    parser.feed(path.read_text(encoding="utf-8"))
    text = " ".join(parser.text)
    assert len(parser.srcs) == len(images)
    for src in parser.srcs:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert not parser.links  # nothing fetched from elsewhere
    for rule in report["plan"]["rules"]:
        assert rule["id"] in text and rule["source"] in text
    assert report["plan"]["disclaimer"] in text
    assert f"{report['tumor']['volume_ml']:.1f} ml" in text
    assert "II" in text and "renal veins" in text


def test_html_escapes_report_text(analysis):
    report = dict(analysis.report)
    report["input"] = {**report["input"], "series_description": "<script>alert(1)</script>"}
    html = render_html(report, {})
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_reports_refuse_missing_images(analysis, tmp_path):
    with pytest.raises(InputError, match=r"missing\.png"):
        write_html(analysis.report, {"axial": tmp_path / "missing.png"}, tmp_path / "r.html")
    with pytest.raises(InputError, match=r"missing\.png"):
        write_pdf(analysis.report, {"axial": tmp_path / "missing.png"}, tmp_path / "r.pdf")


def test_pdf_renders_with_poppler_and_shows_content(analysis, images, tmp_path):
    assert shutil.which("pdftoppm") and shutil.which("pdftotext"), "poppler-utils must be installed"
    path = write_pdf(analysis.report, images, tmp_path / "report.pdf")
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True,
                          text=True).stdout
    assert "IVC tumor planning report" in text
    for rule in analysis.report["plan"]["rules"]:
        assert re.search(rf"\b{rule['id']}:", text)
    assert "Disclaimer" in text and "Largest 3D diameter" in text
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(path), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page*.png"))
    assert len(pages) >= 3  # text, then the figures at their printed size
    ink = []
    for page in pages:
        rgb = load(page)
        assert rgb.shape[0] > rgb.shape[1]  # portrait A4
        ink.append((rgb < 200).any(axis=-1).mean())
    assert min(ink) > 0.005  # ink on every page
    # the renderings fill a page: plenty of non-white pixels
    assert max(ink) > 0.2, ink


def test_every_output_kind_is_written_and_images_are_rendered_once(analysis, images, outdir, monkeypatch):
    from ivcplan.labels import Label
    from ivcplan.outputs import images as images_module

    tmp_path = outdir
    calls = []
    real = images_module.render_images

    def counted(*args, **kwargs):
        calls.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(images_module, "render_images", counted)
    skipped: dict[str, str] = {}
    written = write_outputs(analysis, outdir, skipped=skipped)
    assert calls == [outdir / "images"]  # the images kind, the HTML and the PDF share one rendering
    assert sorted(p.name for p in (outdir / "images").glob("*.png")) == sorted(Path(p).name for p in images.values())
    for kind in ("json", "csv", "segmentation", "seg_nrrd", "html", "pdf", "images", "meshes"):
        assert kind in written and Path(written[kind]).exists(), kind
    assert written["seg_nrrd"].name == "segmentation.seg.nrrd"
    assert (outdir / "segmentation.ctbl").is_file() and (outdir / "segmentation_labels.txt").is_file()
    # The synthetic volume came from memory, not DICOM: no DICOM SEG, said so, nothing crashed.
    assert "dicom_seg" not in written
    assert "not DICOM" in skipped["dicom_seg"]
    meshes = sorted(p.name for p in (tmp_path / "meshes").glob("*.stl"))
    assert f"{int(Label.IVC_TUMOR):02d}_ivc_tumor.stl" in meshes
    assert (tmp_path / "meshes" / "anatomy.glb").stat().st_size > 1000
    assert np.all([p.stat().st_size > 0 for p in (tmp_path / "images").iterdir()])


def test_outputs_of_an_empty_segmentation(case, tmp_path):
    # Nothing segmented: no scene, no CPR, no mesh, but the slices, the volume rendering and the
    # reports still come out and say what is missing.
    from ivcplan.volume import Labelmap

    analysis = pipeline.run(case.volume, labels=Labelmap.empty(case.labelmap.grid))
    skipped: dict[str, str] = {}
    written = write_outputs(analysis, tmp_path, ["images", "html", "meshes", "seg_nrrd"], skipped=skipped)
    assert "meshes" not in written and "empty segmentation" in skipped["meshes"]
    assert "seg_nrrd" not in written and "empty segmentation" in skipped["seg_nrrd"]
    assert not (tmp_path / "meshes").exists()
    assert sorted(p.stem for p in (tmp_path / "images").glob("*.png")) == [
        "slice_axial", "slice_coronal", "slice_sagittal", "volume_anterior"]
    assert "IVC not found" in written["html"].read_text(encoding="utf-8")


def test_dicom_input_gets_a_dicom_seg_of_its_series(case, tmp_path):
    import highdicom as hd
    import pydicom

    from ivcplan.outputs.export import read_dicom_seg

    files = write_ct_series(case.volume, tmp_path / "ct")
    analysis = pipeline.run(tmp_path / "ct", labels=case.labelmap)
    assert sorted(map(str, analysis.volume.meta["source_files"])) == sorted(map(str, files))
    written = write_outputs(analysis, tmp_path / "out", ["dicom_seg"])
    seg = hd.seg.segread(str(written["dicom_seg"]))
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == pydicom.dcmread(files[0]).SeriesInstanceUID
    back = read_dicom_seg(written["dicom_seg"], files, analysis.segmentation.labelmap)
    assert np.array_equal(back.array, analysis.segmentation.labelmap.array)
