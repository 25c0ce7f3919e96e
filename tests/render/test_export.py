"""Mesh, NIfTI and DICOM SEG exports checked against the voxel masks they come from."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from conftest import build_case
from dicom_series import write_ct_series
from scipy import ndimage
from scipy.spatial import cKDTree

from ivcplan.errors import InputError
from ivcplan.io.export import read_dicom_seg, safe_filename, write_dicom_seg, write_meshes
from ivcplan.labels import Label
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


def _boundary_distances(labelmap: Labelmap, label: int, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance (mm) from each point to the nearest inside-boundary and outside-boundary voxel centre."""
    mask = np.pad(labelmap.array == label, 1)  # the outside continues beyond the grid border
    full = np.ones((3, 3, 3), dtype=bool)  # corners count: a rounded corner lies near a diagonal neighbour
    inner = mask & ~ndimage.binary_erosion(mask, full)
    outer = ndimage.binary_dilation(mask, full) & ~mask
    to_lps = labelmap.grid.index_to_lps
    d_in, _ = cKDTree(to_lps(np.argwhere(inner) - 1)).query(points)
    d_out, _ = cKDTree(to_lps(np.argwhere(outer) - 1)).query(points)
    return d_in, d_out


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
        d_in, d_out = _boundary_distances(labelmap, label, pts)
        assert d_in.max() <= voxel and d_out.max() <= voxel, (label.key, d_in.max(), d_out.max(), voxel)


def test_meshes_match_masks_in_patient_coordinates(case, tmp_path):
    _check_meshes(case.labelmap, tmp_path)


def test_meshes_follow_a_left_handed_oblique_grid(tmp_path):
    # Columns run to the patient's right, rows anterior, and the grid is rotated 20 degrees about S:
    # the mesh must still sit on the mask in LPS and keep outward faces.
    t = np.deg2rad(20.0)
    rot = np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])
    direction = rot @ np.array([[0.0, 0.0, -1.0], [0.0, -1.0, 0.0], [1.0, 0.0, 0.0]])
    _check_meshes(build_case(direction=direction).labelmap, tmp_path)


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


def test_dicom_seg_reloads_with_highdicom_and_matches(case, tmp_path):
    import highdicom as hd

    files = write_ct_series(case.volume, tmp_path / "ct")
    path = write_dicom_seg(case.labelmap, files[::-1], tmp_path / "seg.dcm")  # order must not matter
    seg = hd.seg.segread(str(path))
    assert seg.Modality == "SEG"
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
