"""Every image kind rendered from the synthetic case and checked as a picture."""

from __future__ import annotations

import numpy as np
import pytest
from imagecheck import OVERLAY_SATURATION, assert_not_blank, centroid, fraction_near, hue_mask, load

from ivcplan.errors import InputError
from ivcplan.labels import Label
from ivcplan.render.cpr import cpr_picture, curved_reformation
from ivcplan.render.plots import area_profile, profile_picture
from ivcplan.render.scene import render_surfaces, scene_snapshot
from ivcplan.render.slices import orthogonal, plane_picture, plane_xy, tumor_center
from ivcplan.render.volume_rendering import render_volume, volume_snapshot
from ivcplan.volume import Labelmap

TUMOR = Label.IVC_TUMOR.color
#: A projected centroid and the centroid of the tumor-colored pixels agree within this share of the width.
CENTROID_TOLERANCE = 0.03


def _centre_lps(labelmap: Labelmap, label: int) -> np.ndarray:
    return labelmap.grid.index_to_lps(np.argwhere(labelmap.array == label).mean(axis=0))


@pytest.fixture(scope="module")
def scenes(case):
    return {view: scene_snapshot(case.labelmap, view=view, size=(640, 560)) for view in ("anterior", "right",
                                                                                      "posterior")}


@pytest.mark.parametrize("view", ["anterior", "right", "posterior"])
def test_scene_shows_the_tumor_where_it_projects(case, scenes, view):
    snap = scenes[view]
    assert snap.rgb.shape == (560, 640, 3)
    assert_not_blank(snap.rgb)
    tumor = hue_mask(snap.rgb, TUMOR)
    expected = snap.pixel_of(_centre_lps(case.labelmap, Label.IVC_TUMOR))[0]
    assert fraction_near(tumor, expected, 4) > 0.8
    assert np.linalg.norm(centroid(tumor) - expected) < CENTROID_TOLERANCE * snap.rgb.shape[1]


def test_scene_orientation_is_anatomical(case, scenes):
    # Anterior: patient right (IVC, right kidney) on the image left, aorta on the right, head up.
    ant, post, right = scenes["anterior"], scenes["posterior"], scenes["right"]
    aorta = _centre_lps(case.labelmap, Label.AORTA)
    ivc = _centre_lps(case.labelmap, Label.IVC_TUMOR)
    atrium = _centre_lps(case.labelmap, Label.RIGHT_ATRIUM)
    kidney = _centre_lps(case.labelmap, Label.KIDNEY_RIGHT)
    assert ant.pixel_of(ivc)[0, 0] < ant.pixel_of(aorta)[0, 0]
    assert post.pixel_of(ivc)[0, 0] > post.pixel_of(aorta)[0, 0]
    assert ant.pixel_of(atrium)[0, 1] < ant.pixel_of(kidney)[0, 1]  # superior is up
    # Right lateral: anterior (the liver) on the image right of the spine.
    spine = _centre_lps(case.labelmap, Label.SPINE)
    liver = _centre_lps(case.labelmap, Label.LIVER)
    assert right.pixel_of(liver)[0, 0] > right.pixel_of(spine)[0, 0]
    # And the pictures agree: aorta red pixels lie right of the tumor in the anterior view.
    red = hue_mask(ant.rgb, Label.AORTA.color, hue_tol=0.02)
    assert centroid(red)[0] > centroid(hue_mask(ant.rgb, TUMOR))[0]


def test_scene_written_to_png(case, tmp_path):
    path = render_surfaces(case.labelmap, tmp_path / "scene.png", view="right", size=(300, 260))
    rgb = load(path)
    assert rgb.shape == (260, 300, 3)
    assert_not_blank(rgb)


def test_empty_scene_is_refused(case, tmp_path):
    with pytest.raises(InputError, match="nothing to render"):
        render_surfaces(Labelmap.empty(case.labelmap.grid), tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()
    with pytest.raises(InputError, match="view"):
        render_surfaces(case.labelmap, tmp_path / "x.png", view="cranial")


def test_volume_rendering_highlights_the_tumor(case, tmp_path):
    snap = volume_snapshot(case.volume, case.labelmap, size=(480, 480))
    assert_not_blank(snap.rgb)
    tumor = hue_mask(snap.rgb, TUMOR)
    expected = snap.pixel_of(_centre_lps(case.labelmap, Label.IVC_TUMOR))[0]
    assert fraction_near(tumor, expected, 4) > 0.8
    # Contrast-filled vessels render red-brown and opaque: the aorta's projection is not background.
    aorta_px = snap.pixel_of(_centre_lps(case.labelmap, Label.AORTA))[0]
    col, row = (int(v) for v in aorta_px)
    r, g, b = snap.rgb[row, col].astype(int)
    assert r > g + 20 and r > b + 20, (r, g, b)
    path = render_volume(case.volume, case.labelmap, tmp_path / "vol.png", size=(200, 200))
    assert load(path).shape == (200, 200, 3)


def test_axial_slice_is_at_the_tumor_largest_section(case):
    centre = tumor_center(case.labelmap)
    from synth_case import TUMOR_CENTRE_ZYX

    expected = case.labelmap.grid.index_to_lps(TUMOR_CENTRE_ZYX)
    assert np.allclose(centre, expected, atol=0.5)


@pytest.mark.parametrize("plane", ["axial", "coronal", "sagittal"])
def test_slices_overlay_tumor_and_orientation(case, plane):
    centre = tumor_center(case.labelmap)
    pic = plane_picture(case.volume, case.labelmap, plane, centre, width_px=400)
    assert pic.rgb.shape[1] == 400
    assert_not_blank(pic.rgb)
    tumor_px = pic.pixel_of(plane, plane_xy(case.volume, plane, centre))[0]
    assert fraction_near(hue_mask(pic.rgb, TUMOR, min_sat=OVERLAY_SATURATION), tumor_px, 2) > 0.8
    if plane != "sagittal":
        # Radiological convention: the aorta (patient left) lies right of the IVC on the image.
        aorta = _centre_lps(case.labelmap, Label.AORTA)
        aorta[2] = centre[2]
        aorta_px = pic.pixel_of(plane, plane_xy(case.volume, plane, aorta))[0]
        assert aorta_px[0] > tumor_px[0] + 20
        assert fraction_near(hue_mask(pic.rgb, Label.AORTA.color, hue_tol=0.02, min_sat=OVERLAY_SATURATION),
                             aorta_px, 1) > 0.5
    else:
        # Anterior on the left: the liver (in front of the IVC) lies left of the tumor.
        liver = _centre_lps(case.labelmap, Label.LIVER)
        liver[0] = centre[0]
        assert pic.pixel_of(plane, plane_xy(case.volume, plane, liver))[0, 0] < tumor_px[0]


def test_orthogonal_writes_three_pngs(case, tmp_path):
    paths = orthogonal(case.volume, case.labelmap, tumor_center(case.labelmap), tmp_path / "case", window="liver")
    assert sorted(paths) == ["axial", "coronal", "sagittal"]
    for path in paths.values():
        assert_not_blank(load(path))
    with pytest.raises(InputError, match="outside"):
        orthogonal(case.volume, case.labelmap, [900.0, 0.0, 0.0], tmp_path / "bad")


def test_windows_change_the_picture(case):
    centre = tumor_center(case.labelmap)
    soft = plane_picture(case.volume, None, "axial", centre, window="abdomen", width_px=200).rgb
    bone = plane_picture(case.volume, None, "axial", centre, window="bone", width_px=200).rgb
    assert soft.mean() > bone.mean() + 10  # soft tissue (40 HU) is brighter in the abdomen window
    with pytest.raises(ValueError, match="window"):
        plane_picture(case.volume, None, "axial", centre, window="brain")


def test_cpr_shows_tumor_segments_and_landmarks(case, tmp_path):
    pic = cpr_picture(case.volume, case.labelmap, case.centerline_points, case.s, case.landmarks_s, height_px=700)
    assert_not_blank(pic.rgb)
    tumor_mask = hue_mask(pic.rgb, TUMOR, min_sat=OVERLAY_SATURATION)
    tumor_s = float(np.interp(_centre_lps(case.labelmap, Label.IVC_TUMOR)[2], case.centerline_points[:, 2], case.s))
    for panel in ("coronal", "sagittal"):
        assert fraction_near(tumor_mask, pic.pixel_of(panel, (0.0, tumor_s))[0], 2) > 0.8
        # Below the tumor the centre of the strip is lumen (blue), not tumor.
        low = pic.pixel_of(panel, (0.0, 10.0))[0]
        assert fraction_near(tumor_mask, low, 2) == 0.0
        assert fraction_near(hue_mask(pic.rgb, Label.IVC_LUMEN.color, min_sat=OVERLAY_SATURATION), low, 2) > 0.8
        # The I/II boundary is a white line across the strip.
        col, row = (int(np.rint(v)) for v in pic.pixel_of(panel, (-30.0, case.landmarks_s["renal_veins"]))[0])
        assert np.any(np.all(pic.rgb[row - 1:row + 2, col] > 235, axis=-1))
    # The coronal panel puts the aorta (patient left) on the right of the IVC.
    assert fraction_near(hue_mask(pic.rgb, Label.AORTA.color, hue_tol=0.02, min_sat=OVERLAY_SATURATION),
                         pic.pixel_of("coronal", (26.0, 60.0))[0], 2) > 0.5
    path = curved_reformation(case.volume, case.labelmap, case.centerline_points, case.s, case.landmarks_s,
                              tmp_path / "cpr.png")
    assert_not_blank(load(path))
    with pytest.raises(InputError, match="s must"):
        curved_reformation(case.volume, case.labelmap, case.centerline_points, case.s[::-1], {}, tmp_path / "x.png")


def test_profile_plot_draws_areas_where_they_are(tmp_path):
    s = np.linspace(0.0, 120.0, 81)
    tumor = np.where(np.abs(s - 80) < 15, 150.0, 0.0)
    lumen = np.where(tumor > 0, 30.0, 180.0)
    diam = {"eq_diameter_mm": 2 * np.sqrt((lumen + tumor) / np.pi)}
    landmarks = {"renal_veins": 30.0, "hepatic_veins": 100.0}
    pic = profile_picture(s, lumen, tumor, diam, landmarks)
    assert_not_blank(pic.rgb, min_colors=20)
    tumor_mask = hue_mask(pic.rgb, TUMOR)
    lumen_mask = hue_mask(pic.rgb, Label.IVC_LUMEN.color, min_sat=OVERLAY_SATURATION)
    assert fraction_near(tumor_mask, pic.pixel_of("area", (80.0, 100.0))[0], 2) > 0.8
    assert fraction_near(lumen_mask, pic.pixel_of("area", (80.0, 15.0))[0], 2) > 0.8
    assert fraction_near(lumen_mask, pic.pixel_of("area", (20.0, 100.0))[0], 2) > 0.8
    assert fraction_near(tumor_mask, pic.pixel_of("area", (20.0, 100.0))[0], 3) == 0.0
    path = area_profile(s, lumen, tumor, diam, landmarks, tmp_path / "profile.png")
    assert_not_blank(load(path), min_colors=20)
    with pytest.raises(InputError, match="tumor_area"):
        area_profile(s, lumen, tumor[:-1], diam, landmarks, tmp_path / "bad.png")
