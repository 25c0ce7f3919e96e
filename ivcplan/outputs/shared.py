"""What several output kinds of one `write_outputs` call share, made once and only when asked for."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from ivcplan.analysis import Analysis
from ivcplan.render.mesh import Surface, default_surfaces

#: Sub-folder of the output folder that holds the images.
IMAGES_DIR = "images"


class Shared:
    """The label surfaces (3D scenes and mesh files) and the images (scene views, slices, CPR, profile;
    the ``images`` kind, the HTML and the PDF) of one analysis written into one folder."""

    def __init__(self, analysis: Analysis, outdir: Path) -> None:
        self.analysis = analysis
        self.outdir = Path(outdir)

    @cached_property
    def surfaces(self) -> list[Surface]:
        return default_surfaces(self.analysis.labelmap)

    @cached_property
    def images(self) -> dict[str, Path]:
        from ivcplan.outputs.images import render_images

        return render_images(self.analysis, self.outdir / IMAGES_DIR, self.surfaces)
