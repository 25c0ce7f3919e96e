"""Drawing (VTK offscreen and matplotlib): each module draws one kind of picture from plain inputs.

`scene` (shaded label surfaces), `volume_rendering` (CT volume rendering with the IVC inside),
`slices` (orthogonal slices with label overlays), `cpr` (stretched curved reformation along the
IVC), `plots` (area/diameter profile), `mesh` (label surfaces, shared with the mesh files and the
viewer), `figure` and `_vtk` (the matplotlib and VTK plumbing).

May import: `ivcplan.volume`, `ivcplan.labels`, `ivcplan.errors`. Which images an analysis gets
is decided in `ivcplan.outputs.images`, not here.
"""
