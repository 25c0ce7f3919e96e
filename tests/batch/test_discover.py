"""Discovery: which cases a tree holds, their names, and the fingerprint that decides resuming."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from cases import head_ct

from ivcplan.batch import discover, fingerprint, parse_memory, safe_name
from ivcplan.errors import InputError
from ivcplan.io import save_nifti


def test_mixed_tree(mixed_root):
    found = discover(mixed_root.root)
    by_kind = sorted((c.kind, c.relpath) for c in found.cases)
    assert by_kind == sorted([("dicom", "study1/ct"), ("image", "nifti/thrombus_ct.nii.gz"), ("dicom", "mixed"),
                              ("dicom", "mixed"), ("image", "corrupt.nii.gz"), ("dicom", "study2/mr"),
                              ("dicom", "head"), ("dicom", "broken")])
    mixed = [c for c in found.cases if c.relpath == "mixed"]
    assert {c.series for c in mixed} == {mixed_root.good["mixed#A"], mixed_root.good["mixed#B"]}
    assert all(len(c.files) == 44 for c in mixed)  # each series keeps only its own files
    assert [(i.relpath, i.modality) for i in found.ignored] == [("study1/ct", "SR")]
    assert {c.modality for c in found.cases if c.kind == "dicom"} == {"CT", "MR"}


def test_names_are_safe_stable_and_unique():
    name = safe_name("../../etc/passwd name with spaces/é", "dicom:x:1.2.3")
    assert re.fullmatch(r"[A-Za-z0-9._-]+", name) and not name.startswith(".")
    assert name == safe_name("../../etc/passwd name with spaces/é", "dicom:x:1.2.3")
    assert name != safe_name("../../etc/passwd name with spaces/é", "dicom:x:1.2.4")
    assert len(safe_name("a" * 500, "x")) <= 48 + 11
    assert safe_name("...", "x").startswith("case-")


def test_output_folder_inside_the_root_is_not_scanned(tmp_path: Path):
    root = tmp_path / "root"
    (root / "out" / "cases" / "x").mkdir(parents=True)
    vol = head_ct(n_slices=4, matrix=16)
    save_nifti(vol, root / "ct.nii.gz")
    save_nifti(vol, root / "out" / "cases" / "x" / "segmentation.nii.gz")
    assert [c.relpath for c in discover(root, exclude=[root / "out"]).cases] == ["ct.nii.gz"]
    assert len(discover(root).cases) == 2


def test_fingerprint_follows_the_files(tmp_path: Path):
    save_nifti(head_ct(n_slices=4, matrix=16), tmp_path / "ct.nii.gz")
    (case,) = discover(tmp_path).cases
    first = fingerprint(case)
    assert fingerprint(case) == first
    st = os.stat(case.source)
    os.utime(case.source, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert fingerprint(case) != first


def test_missing_root():
    with pytest.raises(InputError, match="does not exist"):
        discover("/nonexistent/ivcplan-batch")


@pytest.mark.parametrize(("text", "expected"), [("4GB", 4 * 2**30), ("512MB", 512 * 2**20), ("1.5g", int(1.5 * 2**30)),
                                                ("2000000", 2000000), ("3 GiB", 3 * 2**30), (None, None)])
def test_parse_memory(text, expected):
    assert parse_memory(text) == expected


@pytest.mark.parametrize("text", ["", "GB", "-1GB", "4XB", "four"])
def test_parse_memory_refuses(text):
    with pytest.raises(InputError, match="--memory-limit"):
        parse_memory(text)
