"""PNG previews of a case (axial, coronal, sagittal) in a soft-tissue CT window, for the docs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ivcplan.volume import Volume

#: Abdominal soft-tissue window (HU): level 40, width 400.
WINDOW = (40.0, 400.0)


def write_previews(volume: Volume, outdir: Path, stem: str, centre_lps: np.ndarray,
                   window: tuple[float, float] = WINDOW) -> dict[str, Path]:
    """Write ``<stem>_axial|coronal|sagittal.png`` through ``centre_lps``; returns the paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    canonical = volume.reoriented("SPL")  # axes: z up, y posterior, x left
    arr, grid = canonical.array, canonical.grid
    sz, sy, sx = (float(v) for v in grid.spacing)
    canon = np.rint(grid.lps_to_index(np.asarray(centre_lps, float)))
    kz, ky, kx = (int(np.clip(c, 0, n - 1)) for c, n in zip(canon, arr.shape, strict=True))
    level, width = window
    lo, hi = level - width / 2, level + width / 2
    views = {
        # Radiological convention: patient right on the image left, anterior up, head up.
        "axial": (arr[kz], (0, arr.shape[2] * sx, arr.shape[1] * sy, 0)),
        "coronal": (arr[::-1, ky, :], (0, arr.shape[2] * sx, 0, arr.shape[0] * sz)),
        "sagittal": (arr[::-1, :, kx], (0, arr.shape[1] * sy, 0, arr.shape[0] * sz)),
    }
    out = {}
    for name, (img, extent) in views.items():
        h_mm, w_mm = abs(extent[3] - extent[2]), abs(extent[1] - extent[0])
        fig = plt.figure(figsize=(6, 6 * h_mm / w_mm), dpi=110)
        ax = fig.add_axes((0, 0, 1, 1))
        ax.imshow(img, cmap="gray", vmin=lo, vmax=hi, extent=extent, aspect="equal", interpolation="bilinear")
        ax.set_axis_off()
        path = outdir / f"{stem}_{name}.png"
        fig.savefig(path)
        plt.close(fig)
        out[name] = path
    return out


def preview_centre(truth_info: dict) -> np.ndarray:
    """Where to cut the previews: the tumor's middle, else the thrombus', else the renal vein level."""
    facts = truth_info["facts"]
    for key in ("tumor", "thrombus"):
        section = facts.get(key) or {}
        if section.get("present"):
            return 0.5 * (np.asarray(section["upper_pole_mm"]) + np.asarray(section["lower_pole_mm"]))
    for name in ("renal_veins", "hepatic_veins", "iliac_confluence"):
        position = facts["landmarks"][name]["position_mm"]
        if position is not None:
            return np.asarray(position, dtype=float)
    return np.zeros(3)
