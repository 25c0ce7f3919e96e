"""Per-structure statistics against a synthetic labelmap whose volumes, HU and boxes are known exactly,
and their place in report.json and report.csv."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from ivcplan import pipeline
from ivcplan.errors import InputError
from ivcplan.labels import Label
from ivcplan.measure import structure_statistics
from ivcplan.outputs import write_outputs
from ivcplan.report import contract
from ivcplan.volume import Labelmap, Volume

SPACING = (2.0, 0.8, 0.7)  # (z, y, x) mm
ORIGIN = (-30.0, 12.5, 100.0)  # LPS of voxel (0, 0, 0)
#: Liver box: index ranges (z, y, x), HU 100 +- 10 in a checkerboard (mean 100, population SD 10).
LIVER_BOX = (slice(2, 12), slice(5, 25), slice(4, 30))
AORTA_VOXEL = (14, 30, 33)  # one voxel at 200 HU: SD 0


def _case(direction=None) -> tuple[Volume, Labelmap]:
    shape = (16, 40, 40)
    hu = np.full(shape, -1000, np.int16)
    lab = np.zeros(shape, np.uint8)
    lab[LIVER_BOX] = Label.LIVER
    z, y, x = np.indices(shape)
    hu[LIVER_BOX] = np.where(((z + y + x) % 2 == 0)[LIVER_BOX], 110, 90)
    lab[AORTA_VOXEL] = Label.AORTA
    hu[AORTA_VOXEL] = 200
    volume = Volume.from_array(hu, spacing=SPACING, origin=ORIGIN, direction=direction)
    return volume, Labelmap(lab, volume.grid)


def test_volume_hu_and_extent_of_an_axis_aligned_grid():
    volume, labelmap = _case()
    stats = structure_statistics(labelmap, volume)
    assert list(stats) == ["aorta", "liver"]  # label order (3, 4); background and absent labels left out
    liver = stats["liver"]
    n = 10 * 20 * 26
    assert (liver.label, liver.voxels) == (int(Label.LIVER), n)
    assert liver.volume_ml == pytest.approx(n * 2.0 * 0.8 * 0.7 / 1000.0, rel=1e-12)
    assert liver.hu_mean == pytest.approx(100.0, abs=1e-9) and liver.hu_sd == pytest.approx(10.0, abs=1e-9)
    # Faces of the box: x from voxel 4's left face to voxel 29's right face, and so on (LPS x, y, z).
    assert liver.bbox_min_lps_mm == pytest.approx((ORIGIN[0] + 3.5 * 0.7, ORIGIN[1] + 4.5 * 0.8, ORIGIN[2] + 1.5 * 2))
    assert liver.bbox_max_lps_mm == pytest.approx((ORIGIN[0] + 29.5 * 0.7, ORIGIN[1] + 24.5 * 0.8,
                                                   ORIGIN[2] + 11.5 * 2))
    assert liver.size_mm == pytest.approx((26 * 0.7, 20 * 0.8, 10 * 2.0))
    aorta = stats["aorta"]
    assert (aorta.voxels, aorta.hu_mean, aorta.hu_sd) == (1, 200.0, 0.0)
    assert aorta.size_mm == pytest.approx((0.7, 0.8, 2.0))
    without_ct = structure_statistics(labelmap)
    assert without_ct["liver"].hu_mean is None and without_ct["liver"].volume_ml == liver.volume_ml


def test_extent_of_an_oblique_grid_is_the_box_of_the_voxels():
    angle = np.deg2rad(25)
    c, s = np.cos(angle), np.sin(angle)
    direction = np.array([[0.0, 0.0, 1.0], [-s, c, 0.0], [c, s, 0.0]])  # tilted about S, axis 2 flipped
    direction[:, 2] *= -1
    volume, labelmap = _case(direction)
    stats = structure_statistics(labelmap, volume)
    grid = labelmap.grid
    half = 0.5 * np.abs(grid.direction) @ grid.spacing
    # Brute force over every liver voxel centre.
    centres = grid.index_to_lps(np.argwhere(labelmap.array == Label.LIVER))
    assert stats["liver"].bbox_min_lps_mm == pytest.approx(tuple(centres.min(axis=0) - half))
    assert stats["liver"].bbox_max_lps_mm == pytest.approx(tuple(centres.max(axis=0) + half))
    one = grid.index_to_lps(np.array(AORTA_VOXEL, float))
    assert stats["aorta"].bbox_min_lps_mm == pytest.approx(tuple(one - half))
    assert stats["liver"].hu_sd == pytest.approx(10.0)


def test_statistics_refuse_a_ct_on_another_grid():
    volume, labelmap = _case()
    other = Volume.from_array(volume.array, spacing=(1.0, 1.0, 1.0))
    with pytest.raises(InputError, match="share one grid"):
        structure_statistics(labelmap, other)


def test_report_json_and_csv_carry_the_statistics(tmp_path):
    volume, labelmap = _case()
    analysis = pipeline.run(volume, labels=labelmap)
    stats = analysis.report["statistics"]
    contract.validate(analysis.report)
    assert set(stats) == {"liver", "aorta"}
    assert stats["liver"]["hu_mean"] == 100.0 and stats["liver"]["hu_sd"] == 10.0
    assert stats["liver"]["size_mm"] == [18.2, 16.0, 20.0]
    written = write_outputs(analysis, tmp_path, ["json", "csv"])
    assert json.loads(written["json"].read_text())["statistics"] == stats
    (row,) = list(csv.DictReader(written["csv"].open()))
    assert float(row["statistics.liver.volume_ml"]) == stats["liver"]["volume_ml"]
    assert row["statistics.liver.voxels"] == "5200"
    assert float(row["statistics.liver.bbox_min_lps_mm.x"]) == pytest.approx(ORIGIN[0] + 3.5 * 0.7, abs=0.01)
    assert float(row["statistics.aorta.size_mm.z"]) == 2.0
    broken = json.loads(json.dumps(analysis.report))
    broken["statistics"]["liver"]["hu_sd"] = -1.0
    with pytest.raises(Exception, match=r"statistics\.liver\.hu_sd"):
        contract.validate(broken)
