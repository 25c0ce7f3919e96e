"""Series discovery and the planner's choice among several series."""

from __future__ import annotations

import numpy as np
import pytest
from dicomgen import write_series
from io_synth import structured_hu

import ivcplan.io as io
from ivcplan.io.series import contrast_hint, plane_label


@pytest.fixture
def study(tmp_path):
    """One study folder with five series, mixed together in nested folders."""
    study = {"study_uid": "1.2.826.0.1.3680043.10.1"}
    hu = structured_hu((8, 20, 20))
    uids = {}
    specs = {
        "native": dict(hu=hu, description="Abdomen nativ", thickness=1.0, series_number=2),
        "venous": dict(hu=hu, description="Abdomen 1.0", contrast="Iohexol", thickness=1.0, series_number=3),
        "thick": dict(hu=hu[::2], description="Abdomen 5.0 portal venous", thickness=5.0, series_number=4,
                      spacing_zyx=(4.0, 0.8, 0.8)),
        "coronal": dict(hu=structured_hu((12, 20, 20)), description="Cor MPR", thickness=1.0, series_number=5,
                        iop=(1, 0, 0, 0, 0, -1)),
        "mr": dict(hu=structured_hu((14, 20, 20)), description="T2 ax", modality="MR", series_number=6),
    }
    for i, (name, spec) in enumerate(specs.items()):
        spec = dict(spec)
        uids[name] = f"1.2.826.0.1.3680043.10.1.{i + 1}"
        write_series(tmp_path / f"d{i % 2}" / name, spec.pop("hu"), series_uid=uids[name], seed=i, **study, **spec)
    return tmp_path, uids


def test_scan_lists_every_series_and_chooses_contrast_axial(study):
    root, uids = study
    found = io.scan(root)
    assert [s.number for s in found] == [1, 2, 3, 4, 5]
    by_uid = {s.uid: s for s in found}
    assert {s.uid for s in found} == set(uids.values())
    chosen = [s for s in found if s.chosen]
    assert [s.uid for s in chosen] == [uids["venous"]]
    reason = chosen[0].reason
    assert "chosen among 4 usable CT series" in reason and "axial (preferred to other planes)" in reason
    assert "8 slices (most)" in reason  # the 4-slice axial series has fewer; the 12-slice one is coronal
    assert "contrast-enhanced (ContrastBolusAgent 'Iohexol')" in reason
    assert by_uid[uids["coronal"]].orientation == "coronal"
    assert by_uid[uids["native"]].contrast is False
    assert by_uid[uids["thick"]].contrast is True  # from the description
    assert by_uid[uids["thick"]].spacing == pytest.approx((4.0, 0.8, 0.8))
    assert by_uid[uids["mr"]].modality == "MR"
    volume = io.load(root)
    assert volume.meta["series_instance_uid"] == uids["venous"]
    assert volume.meta["chosen_reason"] == reason


def test_select_by_number_and_uid(study):
    root, uids = study
    numbers = {s.uid: s.number for s in io.scan(root)}
    by_number = io.load(root, series=numbers[uids["thick"]])
    assert by_number.meta["series_instance_uid"] == uids["thick"]
    assert by_number.shape[0] == 4
    by_uid = io.load(root, series=uids["coronal"])
    np.testing.assert_allclose(by_uid.grid.slice_normal, [0, 1, 0], atol=1e-12)  # row x column cosines
    assert io.load(root, series=str(numbers[uids["native"]])).meta["series_description"] == "Abdomen nativ"


def test_thinnest_wins_at_equal_slice_count(tmp_path):
    hu = structured_hu((6, 16, 16))
    write_series(tmp_path / "a", hu, thickness=3.0, series_uid="1.2.3.1", series_number=1)
    write_series(tmp_path / "b", hu, thickness=1.5, series_uid="1.2.3.2", series_number=2)
    chosen = [s for s in io.scan(tmp_path) if s.chosen]
    assert [s.uid for s in chosen] == ["1.2.3.2"]
    assert "(thinnest)" in chosen[0].reason


@pytest.mark.parametrize("description, agent, expected", [
    ("Abdomen PV 1.0", "", True), ("CT Abdomen nativ", "", False), ("Body 3.0", "OMNIPAQUE", True),
    ("Thorax non-contrast", "", False), ("Body 3.0", "", None), ("Body", "NONE", None),
])
def test_contrast_hint(description, agent, expected):
    assert contrast_hint(description, agent) is expected


@pytest.mark.parametrize("iop, label", [
    ((1, 0, 0, 0, 1, 0), "axial"), ((1, 0, 0, 0, 0, -1), "coronal"), ((0, 1, 0, 0, 0, -1), "sagittal"),
    ((1, 0, 0, 0, 0.6, -0.8), "oblique"), (None, "unknown"),
])
def test_plane_label(iop, label):
    assert plane_label(iop) == label
