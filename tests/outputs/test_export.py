"""Mesh, NIfTI and DICOM SEG exports checked against the voxel masks they come from."""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

import numpy as np
import pytest
from dicom_series import write_ct_series
from scipy import ndimage
from scipy.spatial import cKDTree
from synth_case import build_case

from ivcplan.errors import InputError
from ivcplan.labels import Label
from ivcplan.outputs.export import read_dicom_seg, safe_filename, write_dicom_seg, write_meshes
from ivcplan.render.mesh import CONTOUR_SPACING_MM
from ivcplan.volume import Labelmap

#: Acceptance: mesh volume within 5 % of the voxel mask, surface within one voxel of the mask boundary.
VOLUME_TOLERANCE = 0.05
STRUCTURES = (Label.IVC_LUMEN, Label.IVC_TUMOR, Label.AORTA, Label.LIVER, Label.KIDNEY_RIGHT, Label.SPINE)


def _read_stl(path: Path):
    from vtkmodules.vtkIOGeometry import vtkSTLReader

    reader = vtkSTLReader()
    reader.SetFileName(str(path))
    reader.Update()
    return reader.GetOutput()


def _points_tris(poly) -> tuple[np.ndarray, np.ndarray]:
    from ivcplan.render._vtk import polydata_points, polydata_triangles

    return polydata_points(poly), polydata_triangles(poly)


def _signed_volume(points: np.ndarray, tris: np.ndarray) -> float:
    a, b, c = points[tris[:, 0]], points[tris[:, 1]], points[tris[:, 2]]
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


def _open_edges(tris: np.ndarray) -> int:
    """Edges not shared by exactly two triangles (0 for a closed, manifold surface)."""
    edges = np.sort(np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]]), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    return int(np.count_nonzero(counts != 2))


def _cube_distance(points_mm: np.ndarray, centres_mm: np.ndarray, half: np.ndarray, k: int = 8) -> np.ndarray:
    """Distance from each point to the nearest of the voxel cubes (centres, half sizes), all in mm."""
    _, nearest = cKDTree(centres_mm).query(points_mm, k=k)
    gap = np.maximum(np.abs(points_mm[:, None, :] - centres_mm[nearest]) - half, 0.0)
    return np.linalg.norm(gap, axis=-1).min(axis=1)


def _boundary_distances(labelmap: Labelmap, label: int, points: np.ndarray) -> np.ndarray:
    """Distance (mm) from each LPS point to the mask's boundary surface (the faces of its voxel cubes).

    Computed in the grid's index frame scaled to mm (a rotation of LPS, so distances are kept):
    a point inside the mask is measured to the nearest outside voxel, a point outside to the
    nearest mask voxel.
    """
    grid = labelmap.grid
    mask = np.pad(labelmap.array == label, 1)  # the outside continues beyond the grid border
    full = np.ones((3, 3, 3), dtype=bool)
    inner = np.argwhere(mask & ~ndimage.binary_erosion(mask, full)) - 1
    outer = np.argwhere(ndimage.binary_dilation(mask, full) & ~mask) - 1
    pts = grid.lps_to_index(points) * grid.spacing
    idx = np.rint(grid.lps_to_index(points)).astype(int) + 1
    inside = mask[idx[:, 0], idx[:, 1], idx[:, 2]]
    half = grid.spacing / 2.0
    out = np.empty(len(pts))
    out[inside] = _cube_distance(pts[inside], outer * grid.spacing, half)
    out[~inside] = _cube_distance(pts[~inside], inner * grid.spacing, half)
    return out


def _check_meshes(labelmap: Labelmap, outdir: Path) -> None:
    written = write_meshes(labelmap, outdir, formats=("stl",))
    voxel = float(np.max(labelmap.grid.spacing))
    for label in STRUCTURES:
        path = written[f"{label.key}.stl"]
        pts, tris = _points_tris(_read_stl(path))
        assert _open_edges(tris) == 0, f"{label.key} mesh is not watertight"
        mesh_ml = _signed_volume(pts, tris) / 1000.0
        mask_ml = labelmap.volume_ml(label)
        assert mesh_ml > 0, f"{label.key}: faces point inwards (signed volume {mesh_ml:.2f} ml)"
        assert abs(mesh_ml - mask_ml) <= VOLUME_TOLERANCE * mask_ml, (label.key, mesh_ml, mask_ml)
        distance = _boundary_distances(labelmap, label, pts)
        assert distance.max() <= voxel, (label.key, distance.max(), voxel)


def test_meshes_match_masks_in_patient_coordinates(case, tmp_path):
    _check_meshes(case.labelmap, tmp_path)


def test_meshes_follow_a_left_handed_oblique_grid(tmp_path):
    # Columns run to the patient's right, rows anterior, and the grid is rotated 20 degrees about S:
    # the mesh must still sit on the mask in LPS and keep outward faces.
    t = np.deg2rad(20.0)
    rot = np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])
    direction = rot @ np.array([[0.0, 0.0, -1.0], [0.0, -1.0, 0.0], [1.0, 0.0, 0.0]])
    _check_meshes(build_case(direction=direction).labelmap, tmp_path)


def test_meshes_of_a_fine_grid_are_pooled_and_still_accurate(case, tmp_path):
    # 1.0 mm slices and 0.75 mm pixels are pooled 2x2x2 before contouring (shapes drawn at the fine
    # resolution): the acceptance criteria must still hold.
    labelmap = build_case(refine=2).labelmap
    assert np.all(np.rint(CONTOUR_SPACING_MM / labelmap.grid.spacing) == 2)
    _check_meshes(labelmap, tmp_path)


def test_obj_and_glb_hold_the_same_geometry(case, tmp_path):
    from vtkmodules.vtkIOGeometry import vtkGLTFReader, vtkOBJReader

    written = write_meshes(case.labelmap, tmp_path, formats=("stl", "obj", "glb"), labels=[Label.IVC_TUMOR])
    assert set(written) == {"ivc_tumor.stl", "ivc_tumor.obj", "anatomy.glb"}
    stl_pts, _ = _points_tris(_read_stl(written["ivc_tumor.stl"]))
    reader = vtkOBJReader()
    reader.SetFileName(str(written["ivc_tumor.obj"]))
    reader.Update()
    obj_pts, obj_tris = _points_tris(reader.GetOutput())
    assert _open_edges(obj_tris) == 0
    assert cKDTree(stl_pts).query(obj_pts)[0].max() < 1e-3

    data = written["anatomy.glb"].read_bytes()
    magic, version, total = struct.unpack_from("<4sII", data)
    assert (magic, version, total) == (b"glTF", 2, len(data))
    doc = json.loads(data[20:20 + struct.unpack_from("<I", data, 12)[0]])
    assert [m["name"] for m in doc["meshes"]] == ["ivc_tumor"]
    gltf = vtkGLTFReader()
    gltf.SetFileName(str(written["anatomy.glb"]))
    gltf.Update()
    leaves = gltf.GetOutput().NewIterator()
    leaves.InitTraversal()
    glb_pts, _ = _points_tris(leaves.GetCurrentDataObject())  # VTK applies the node transforms
    # The root node maps LPS mm to glTF metres with Y = superior, Z = anterior.
    expected = np.c_[stl_pts[:, 0], stl_pts[:, 2], -stl_pts[:, 1]] / 1000.0
    assert cKDTree(expected).query(glb_pts)[0].max() < 1e-6


def test_meshes_refuse_an_empty_labelmap(case, tmp_path):
    with pytest.raises(InputError, match="no structure"):
        write_meshes(Labelmap.empty(case.labelmap.grid), tmp_path)
    with pytest.raises(InputError, match="formats"):
        write_meshes(case.labelmap, tmp_path, formats=("ply",))


@pytest.mark.parametrize("kind", ["binary", "labelmap"])
def test_dicom_seg_reloads_with_highdicom_and_matches(case, tmp_path, kind):
    import highdicom as hd

    files = write_ct_series(case.volume, tmp_path / "ct")
    # The source order must not matter.
    path = write_dicom_seg(case.labelmap, files[::-1], tmp_path / "seg.dcm", segmentation_type=kind)
    seg = hd.seg.segread(str(path))
    assert seg.Modality == "SEG" and seg.SegmentationType == kind.upper()
    assert {d.segment_label for d in (seg.get_segment_description(n) for n in seg.get_segment_numbers())} == {
        case.labelmap.name(v) for v in case.labelmap.present()}
    import pydicom

    ct_series = pydicom.dcmread(files[0]).SeriesInstanceUID
    referenced = seg.ReferencedSeriesSequence[0].SeriesInstanceUID
    assert referenced == ct_series
    back = read_dicom_seg(path, files, case.labelmap)
    assert np.array_equal(back.array, case.labelmap.array)
    assert "passwd" not in path.name and all(".." not in p.name for p in tmp_path.iterdir())


def test_dicom_seg_resamples_onto_another_source_grid(case, tmp_path):
    # The labelmap on a coarser grid than the CT: each source plane is sampled through LPS.
    files = write_ct_series(case.volume, tmp_path / "ct")
    coarse_grid = case.labelmap.grid.__class__(
        (36, 32, 32), case.labelmap.grid.spacing * 2, case.labelmap.grid.index_to_lps([0.5, 0.5, 0.5]),
        case.labelmap.grid.direction)
    coarse = case.labelmap.resample_to(coarse_grid)
    back = read_dicom_seg(write_dicom_seg(coarse, files, tmp_path / "seg.dcm"), files, case.labelmap)
    expected = coarse.resample_to(case.labelmap.grid).array
    agreement = np.mean(back.array == expected)
    assert agreement > 0.99, agreement


def test_dicom_seg_errors_name_the_problem(case, tmp_path):
    with pytest.raises(InputError, match="source_files"):
        write_dicom_seg(case.labelmap, [], tmp_path / "seg.dcm")
    with pytest.raises(InputError, match="segmentation_type"):
        write_dicom_seg(case.labelmap, [tmp_path / "x.dcm"], tmp_path / "seg.dcm", segmentation_type="fractional")
    bad = tmp_path / "not_dicom.dcm"
    bad.write_text("hello")
    with pytest.raises(InputError, match=r"not_dicom\.dcm"):
        write_dicom_seg(case.labelmap, [bad], tmp_path / "seg.dcm")


@pytest.mark.parametrize(("text", "expected"), [
    ("Doe^John", "Doe_John"), ("../../etc/passwd", "etc_passwd"), ("  ", "unnamed"), ("a/b\\c:d", "a_b_c_d"),
    (".hidden", "hidden"), ("CT Abdomen (3 mm) ÄÖ", "CT_Abdomen_3_mm"), ("x" * 300, "x" * 64), ("..", "unnamed"),
])
def test_safe_filename(text, expected):
    assert safe_filename(text) == expected


def _components(poly) -> int:
    from vtkmodules.vtkFiltersCore import vtkPolyDataConnectivityFilter

    conn = vtkPolyDataConnectivityFilter()
    conn.SetInputData(poly)
    conn.SetExtractionModeToAllRegions()
    conn.Update()
    return conn.GetNumberOfExtractedRegions()


def test_meshes_leave_out_islands_but_keep_real_second_pieces(case, tmp_path, caplog):
    import logging

    from ivcplan.render.mesh import ISLAND_MIN_MM3, ISLAND_MIN_SHARE

    lab = case.labelmap.array.copy()
    voxel_mm3 = case.labelmap.grid.voxel_volume_mm3
    liver_mm3 = np.count_nonzero(lab == Label.LIVER) * voxel_mm3
    # A stray 4x4x4 liver island in the pelvis (288 mm3: over the floor, under 2 % of the liver) and a
    # stray 2x2x2 speck of tumor (36 mm3: under the floor): both noise. The right kidney is cut in two
    # by one empty slice: two comparable halves, both real.
    lab[2:6, 8:12, 40:44] = Label.LIVER
    assert ISLAND_MIN_MM3 < 64 * voxel_mm3 < ISLAND_MIN_SHARE * liver_mm3
    lab[8:10, 20:22, 50:52] = Label.IVC_TUMOR
    assert 8 * voxel_mm3 < ISLAND_MIN_MM3
    kidney_z = np.nonzero(np.any(lab == Label.KIDNEY_RIGHT, axis=(1, 2)))[0]
    cut = int(kidney_z.mean())
    lab[cut][lab[cut] == Label.KIDNEY_RIGHT] = Label.BODY
    labelmap = case.labelmap.with_array(lab)
    assert ndimage.label(lab == Label.KIDNEY_RIGHT, structure=np.ones((3, 3, 3)))[1] == 2
    with caplog.at_level(logging.INFO, logger="ivcplan.render.mesh"):
        written = write_meshes(labelmap, tmp_path, formats=("stl",),
                               labels=[Label.LIVER, Label.IVC_TUMOR, Label.KIDNEY_RIGHT])
    pieces = {key: _components(_read_stl(path)) for key, path in written.items()}
    assert pieces == {"liver.stl": 1, "ivc_tumor.stl": 1, "kidney_right.stl": 2}
    # The island is gone: no liver surface point lies near it; the kidney halves keep their volume.
    centre = labelmap.grid.index_to_lps([3.5, 9.5, 41.5])
    pts, _ = _points_tris(_read_stl(written["liver.stl"]))
    assert np.linalg.norm(pts - centre, axis=1).min() > 20.0
    kidney_mm3 = np.count_nonzero(lab == Label.KIDNEY_RIGHT) * voxel_mm3
    assert _signed_volume(*_points_tris(_read_stl(written["kidney_right.stl"]))) == pytest.approx(kidney_mm3, rel=0.15)
    messages = [r.getMessage() for r in caplog.records]
    assert any(re.match(r"liver surface: 1 piece\(s\) under \d+ mm3 left out \(0\.\d+ ml in all", m)
               for m in messages), messages
    assert any(m.startswith("ivc_tumor surface: 1 piece(s) under") for m in messages), messages
    assert not any(m.startswith("kidney_right") for m in messages)


def test_meshes_of_the_sample_segmentations_are_one_piece_each(tmp_path):
    # A bundled sample's truth: every structure but the spine (its vertebrae stand apart) is one piece;
    # before, the contour's zero-volume slivers and small stray pieces made 2 to 13 pieces of 7 of them.
    import nibabel

    from ivcplan.render.mesh import default_surfaces
    from ivcplan.volume import Volume

    truth = Path(__file__).resolve().parents[2] / "sample_dicom" / "case_b_retrohepatic" / "truth.nii.gz"
    vol = Volume.from_nifti(nibabel.load(truth))
    labelmap = Labelmap(np.asarray(vol.array).astype(np.uint8), vol.grid)
    pieces = {s.name: _components(s.polydata) for s in default_surfaces(labelmap)}
    assert pieces.pop("spine") == 11  # separate bones, each far larger than the limits
    assert len(pieces) == 15 and all(n == 1 for n in pieces.values()), pieces


def test_glb_materials_are_named_and_the_liver_is_see_through(case, tmp_path):
    written = write_meshes(case.labelmap, tmp_path, formats=("glb",))
    data = written["anatomy.glb"].read_bytes()
    doc = json.loads(data[20:20 + struct.unpack_from("<I", data, 12)[0]])
    keys = {Label(v).key for v in case.labelmap.present() if v != Label.BODY}
    leaves = [n for n in doc["nodes"] if "mesh" in n]
    assert {n["name"] for n in leaves} == keys
    for node in leaves:
        mesh = doc["meshes"][node["mesh"]]
        material = doc["materials"][mesh["primitives"][0]["material"]]
        assert mesh["name"] == material["name"] == node["name"] == Label(node["extras"]["label"]).key
        alpha = material["pbrMetallicRoughness"]["baseColorFactor"][3]
        if node["name"] == "liver":
            assert material["alphaMode"] == "BLEND" and alpha <= 0.5
        elif node["name"] in ("ivc_lumen", "ivc_tumor", "aorta"):
            assert material["alphaMode"] == "OPAQUE" and alpha == 1.0
    # Opaque structures first, the see-through ones after them.
    modes = [doc["materials"][doc["meshes"][n["mesh"]]["primitives"][0]["material"]]["alphaMode"] for n in leaves]
    assert modes == sorted(modes, key=lambda m: m == "BLEND")
