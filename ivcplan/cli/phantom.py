"""`ivcplan phantom OUTDIR`: write a synthetic contrast CT (DICOM) with its ground truth."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from ivcplan.cli import app


def _names(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip()) if value else ()


@app.command()
def phantom(
    outdir: Annotated[Path, typer.Argument(help="Output folder: dicom/, truth.nii.gz, truth.json.")],
    case: Annotated[str | None, typer.Option(help="Start from a named case: case_a_renal, case_b_retrohepatic, "
                                                  "case_c_normal, case_d_thrombus.")] = None,
    random: Annotated[int | None, typer.Option(help="A randomized case: anatomy, enhancement, imaging, field of view "
                                                    "and lesion drawn with this seed from the ranges in "
                                                    "docs/phantom.md. Only --matrix and --slice-mm may override "
                                                    "its imaging (quick looks).")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (anatomy variation, texture, noise).")] = None,
    matrix: Annotated[int | None, typer.Option(help="In-plane matrix (rows = columns), up to 1024.")] = None,
    pixel_mm: Annotated[float | None, typer.Option(help="In-plane pixel size, mm.")] = None,
    slice_mm: Annotated[float | None, typer.Option(help="Slice spacing, mm.")] = None,
    thickness_mm: Annotated[float | None, typer.Option(help="Slice thickness, mm (default: the spacing).")] = None,
    slices: Annotated[int | None, typer.Option(help="Number of slices over the field of view "
                                                    "(overrides --slice-mm).")] = None,
    noise_hu: Annotated[float | None, typer.Option(help="Image noise, HU (standard deviation).")] = None,
    blur_mm: Annotated[float | None, typer.Option(help="In-plane blur (PSF FWHM), mm.")] = None,
    position: Annotated[str | None, typer.Option(help="Patient position: HFS or FFS.")] = None,
    transfer_syntax: Annotated[str, typer.Option(help="explicit, rle or jpeg2000.")] = "jpeg2000",
    tumor_from: Annotated[str | None, typer.Option(help="Tumor lower pole: mm from the iliac confluence or "
                                                        "'<landmark>[+-mm]', e.g. renal_veins-40.")] = None,
    tumor_to: Annotated[str | None, typer.Option(help="Tumor upper pole, e.g. cavoatrial_junction+20.")] = None,
    tumor_size: Annotated[str | None, typer.Option(help="Tumor cross-section TRANSVERSExAP in mm, e.g. 60x50.")
                          ] = None,
    tumor_direction: Annotated[float | None, typer.Option(help="Side of extraluminal growth, degrees "
                                                               "(0 left, 90 posterior, 180 right, 270 anterior)."
                                                          )] = None,
    residual_lumen_mm: Annotated[float | None, typer.Option(help="Residual lumen width, mm (0 = occluded).")
                                 ] = None,
    invade_hepatic: Annotated[str | None, typer.Option(help="Hepatic veins invaded, e.g. right,middle.")] = None,
    invade_renal: Annotated[str | None, typer.Option(help="Renal veins invaded, e.g. right.")] = None,
    thrombus_from: Annotated[str | None, typer.Option(help="Bland thrombus lower end (instead of a tumor).")
                             ] = None,
    thrombus_to: Annotated[str | None, typer.Option(help="Bland thrombus upper end.")] = None,
    previews: Annotated[bool, typer.Option(help="Also write axial/coronal/sagittal PNG previews.")] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace DICOM files already in OUTDIR/dicom.")] = False,
) -> None:
    """Generate a synthetic portal-venous CT (IVC from the iliac confluence to the atrium) with ground truth."""
    from ivcplan.errors import IvcplanError
    from ivcplan.phantom import PhantomConfig, ThrombusSpec, TumorSpec, generate, sample_config, write_case

    if random is not None:
        fixed = {"--case": case, "--seed": seed, "--pixel-mm": pixel_mm, "--thickness-mm": thickness_mm,
                 "--slices": slices, "--noise-hu": noise_hu, "--blur-mm": blur_mm, "--position": position,
                 "--tumor-from": tumor_from, "--tumor-to": tumor_to, "--tumor-size": tumor_size,
                 "--tumor-direction": tumor_direction, "--residual-lumen-mm": residual_lumen_mm,
                 "--invade-hepatic": invade_hepatic, "--invade-renal": invade_renal,
                 "--thrombus-from": thrombus_from, "--thrombus-to": thrombus_to}
        clash = [name for name, value in fixed.items() if value is not None]
        if clash:
            typer.echo(f"error: --random draws the whole case; it does not combine with {', '.join(clash)}", err=True)
            raise typer.Exit(2)
        if random < 0:
            typer.echo(f"error: --random expects a non-negative integer seed, got {random}", err=True)
            raise typer.Exit(2)
    try:
        if random is not None:
            from ivcplan.phantom.random_case import generate_random

            result = generate_random(random, matrix=matrix, slice_mm=slice_mm)
            config = result.config
        else:
            config = sample_config(case) if case else PhantomConfig()
            imaging = {"seed": seed, "matrix": matrix, "pixel_mm": pixel_mm, "slice_spacing_mm": slice_mm,
                       "slice_thickness_mm": thickness_mm, "n_slices": slices, "noise_hu": noise_hu,
                       "blur_mm": blur_mm, "patient_position": position.upper() if position else None}
            config = replace(config, **{k: v for k, v in imaging.items() if v is not None})
            tumor_opts = (tumor_from, tumor_to, tumor_size, tumor_direction, residual_lumen_mm, invade_hepatic,
                          invade_renal)
            if any(v is not None for v in tumor_opts):
                tumor = config.tumor or TumorSpec()
                changes: dict = {"lower": tumor_from, "upper": tumor_to, "direction_deg": tumor_direction,
                                 "residual_lumen_mm": residual_lumen_mm}
                if tumor_size:
                    try:
                        transverse, ap = (float(v) for v in tumor_size.lower().split("x"))
                    except ValueError:
                        raise typer.BadParameter(f"expected TRANSVERSExAP in mm, got {tumor_size!r}",
                                                 param_hint="--tumor-size") from None
                    changes.update(transverse_mm=transverse, ap_mm=ap)
                if invade_hepatic is not None:
                    changes["hepatic_veins_invaded"] = _names(invade_hepatic)
                if invade_renal is not None:
                    changes["renal_veins_invaded"] = _names(invade_renal)
                config = replace(config, thrombus=None,
                                 tumor=replace(tumor, **{k: v for k, v in changes.items() if v is not None}))
            if thrombus_from is not None or thrombus_to is not None:
                base = ThrombusSpec()
                config = replace(config, tumor=None, thrombus=replace(
                    base, lower=thrombus_from or base.lower, upper=thrombus_to or base.upper))
            if case is None:
                config = replace(config, name=outdir.name or "phantom")
            result = generate(config)
        paths = write_case(result, outdir, transfer_syntax=transfer_syntax, overwrite=overwrite)
        if previews:
            from ivcplan.phantom.preview import preview_centre, write_previews

            write_previews(result.volume, outdir / "preview", config.name, preview_centre(result.truth_info))
    except IvcplanError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    facts = result.truth_info["facts"]
    tumor_facts = facts["tumor"]
    typer.echo(f"wrote {paths['dicom']} ({result.volume.shape[0]} slices, {result.volume.shape[2]}x"
               f"{result.volume.shape[1]}, {transfer_syntax}), {paths['truth_nifti'].name}, "
               f"{paths['truth_json'].name}")
    if random is not None:
        fov = result.truth_info["field_of_view"]
        typer.echo(f"random case {random}: field of view {fov['crop']} (z {fov['z_range_mm'][0]:.0f} to "
                   f"{fov['z_range_mm'][1]:.0f} mm), {fov['slice_thickness_mm']:.2f} mm slices, "
                   f"{fov['pixel_mm']:.2f} mm pixels, lesion: {result.truth_info['lesion']['kind']}")
    if tumor_facts["present"]:
        typer.echo(f"tumor: {tumor_facts['volume_ml']} ml, max diameter {tumor_facts['max_diameter_mm']} mm, "
                   f"segments {'-'.join(tumor_facts['segments'])}, hepatic veins invaded: "
                   f"{', '.join(tumor_facts['hepatic_veins_invaded']) or 'none'}")
    elif facts.get("thrombus"):
        typer.echo(f"bland thrombus: {facts['thrombus']['volume_ml']} ml")
    else:
        typer.echo("no tumor")
