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

    def __init__(self, analysis: Analysis, outdir: Path, *, reuse_from: Path | None = None,
                 reused: list[str] | None = None) -> None:
        self.analysis = analysis
        self.outdir = Path(outdir)
        #: A folder with the same CT and segmentation: images depending on nothing else are copied from it.
        self.reuse_from = reuse_from
        self.reused = reused if reused is not None else []

    @cached_property
    def surfaces(self) -> list[Surface]:
        return default_surfaces(self.analysis.labelmap)

    @cached_property
    def images(self) -> dict[str, Path]:
        from ivcplan.outputs.images import render_images

        reuse = None if self.reuse_from is None else self.reuse_from / IMAGES_DIR
        return render_images(self.analysis, self.outdir / IMAGES_DIR, lambda: self.surfaces, reuse_from=reuse,
                             reused=self.reused)
