"""Benchmark the render/report outputs of `ivcplan analyze` on a 512x512x300 phantom (2 cores, CPU).

The phantom's truth labelmap is given to `pipeline.run` as the segmentation (segmentation has its
own benchmark), then every output of this area is timed: surface extraction, the three 3D views,
the volume rendering, the orthogonal slices, CPR and profile, meshes (STL/OBJ/GLB), DICOM SEG,
HTML and PDF. Reports wall times, the peak resident memory, and each time as a ratio to a peer run
in the same process (3D Gaussian smoothing of the same CT, sigma 1 voxel), which factors out the
machine's speed and load.

    python scripts/bench_render.py [--matrix 512] [--slices 300] [--outdir /tmp/bench_render]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import ndimage


def _timed(label: str, fn, timings: dict[str, float]):
    t0 = time.perf_counter()
    out = fn()
    timings[label] = time.perf_counter() - t0
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--matrix", type=int, default=512)
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--pixel-mm", type=float, default=0.78)
    parser.add_argument("--outdir", type=Path, default=None)
    args = parser.parse_args()

    from ivcplan import pipeline
    from ivcplan.io import load
    from ivcplan.outputs import write_outputs
    from ivcplan.outputs.export import write_dicom_seg, write_meshes
    from ivcplan.phantom.config import PhantomConfig, TumorSpec
    from ivcplan.phantom.generate import generate
    from ivcplan.render import cpr, plots, scene, slices, volume_rendering
    from ivcplan.render.mesh import default_surfaces
    from ivcplan.report.html import write_html
    from ivcplan.report.pdf import write_pdf

    outdir = args.outdir or Path(tempfile.mkdtemp(prefix="bench_render_"))
    setup: dict[str, float] = {}
    config = PhantomConfig(matrix=args.matrix, pixel_mm=args.pixel_mm, n_slices=args.slices, tumor=TumorSpec())
    case = _timed("phantom", lambda: generate(config), setup)
    # The CT goes through real DICOM files (the SEG must reference them), written by the test helper.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "helpers"))
    from dicom_series import write_ct_series

    _timed("write DICOM", lambda: write_ct_series(case.volume, outdir / "dicom"), setup)
    vol = _timed("load DICOM", lambda: load(outdir / "dicom"), setup)
    analysis = _timed("pipeline.run (truth labels)", lambda: pipeline.run(vol, labels=case.truth), setup)
    lm = analysis.segmentation.labelmap
    cl = analysis.centerline
    lms = {k: v.s_mm for k, v in analysis.landmarks.items() if v.s_mm is not None}

    peer: dict[str, float] = {}
    _timed("peer", lambda: ndimage.gaussian_filter(vol.array.astype(np.float32), 1.0), peer)

    t: dict[str, float] = {}
    images = outdir / "images"
    surfaces = _timed("surfaces (extract)", lambda: default_surfaces(lm), t)
    for view in ("anterior", "right", "posterior"):
        _timed(f"scene {view}", lambda v=view: scene.render_surfaces(lm, images / f"scene_{v}.png", view=v,
                                                                   surfaces=surfaces), t)
    _timed("volume rendering", lambda: volume_rendering.render_volume(vol, lm, images / "volume.png"), t)
    centre = slices.tumor_center(lm)
    _timed("orthogonal slices (3)", lambda: slices.orthogonal(vol, lm, centre, images / "slice"), t)
    _timed("CPR", lambda: cpr.curved_reformation(vol, lm, cl.points, cl.s, lms, images / "cpr.png"), t)
    _timed("profile", lambda: plots.area_profile(cl.s, cl.lumen_area_mm2, cl.tumor_area_mm2,
                                                 {"eq_diameter_mm": cl.eq_diameter_mm}, lms, images / "p.png"), t)
    _timed("meshes STL+OBJ+GLB", lambda: write_meshes(lm, outdir / "meshes", surfaces=surfaces), t)
    _timed("DICOM SEG", lambda: write_dicom_seg(lm, vol.meta["source_files"], outdir / "seg.dcm"), t)
    imgs = {p.stem: p for p in images.glob("*.png")}
    _timed("HTML", lambda: write_html(analysis.report, imgs, outdir / "report.html"), t)
    _timed("PDF", lambda: write_pdf(analysis.report, imgs, outdir / "report.pdf"), t)
    all_outputs: dict[str, float] = {}
    _timed("write_outputs(all)", lambda: write_outputs(analysis, outdir / "all"), all_outputs)

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"case {vol.shape} spacing {np.round(vol.spacing, 3).tolist()}, {len(surfaces)} surfaces, "
          f"{sum(s.polydata.GetNumberOfCells() for s in surfaces)} triangles")
    for name, value in setup.items():
        print(f"  setup {name:32s} {value:7.2f} s")
    print(f"  peer (gaussian sigma 1)              {peer['peer']:7.2f} s")
    for name, value in {**t, **all_outputs}.items():
        print(f"  {name:38s} {value:7.2f} s   ratio to peer {value / peer['peer']:6.2f}")
    total = sum(t.values())
    print(f"  sum of this area's outputs             {total:7.2f} s   ratio to peer {total / peer['peer']:6.2f}")
    print(f"  peak RSS {peak_mb:.0f} MB; outputs in {outdir}")


if __name__ == "__main__":
    main()
