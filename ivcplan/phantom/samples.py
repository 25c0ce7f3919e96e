"""The bundled sample cases (sample_dicom/) and other named configurations.

case_a_renal and case_b_retrohepatic are modelled on the two seed case reports: (a) a ~9 cm
leiomyosarcoma at the renal vein junction (segments I-II, hepatic veins free); (b) an 8 x 6 x 5 cm
segment II-III tumor invading the right hepatic vein, its upper margin close to the right atrium entrance.
Case (b)'s upper pole stops 6 mm below the cavoatrial junction, as in the seed ("close to"), not on it: a
pole exactly at the junction would make the expected plan (intracardiac or not) hinge on a millimetre.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ivcplan.errors import InputError
from ivcplan.phantom.config import PhantomConfig, ThrombusSpec, TumorSpec

#: Imaging of the committed samples: modest matrix, 3 mm slices (kept small on disk).
SAMPLE_IMAGING: dict[str, Any] = {"matrix": 240, "pixel_mm": 1.6, "slice_spacing_mm": 3.0, "noise_hu": 8.0,
                                   "z_range_mm": (-39.0, 291.0)}

SAMPLE_CASES: dict[str, PhantomConfig] = {
    "case_a_renal": PhantomConfig(
        seed=11, name="case_a_renal", **SAMPLE_IMAGING,
        tumor=TumorSpec(lower="renal_veins-58", upper="renal_veins+32", transverse_mm=62.0, ap_mm=52.0,
                        direction_deg=225.0, residual_lumen_mm=4.0, renal_veins_invaded=("right",))),
    "case_b_retrohepatic": PhantomConfig(
        seed=22, name="case_b_retrohepatic", **SAMPLE_IMAGING,
        tumor=TumorSpec(lower="cavoatrial_junction-86", upper="cavoatrial_junction-6", transverse_mm=58.0,
                        ap_mm=46.0, direction_deg=130.0, residual_lumen_mm=4.0,
                        hepatic_veins_invaded=("right",))),
    "case_c_normal": PhantomConfig(seed=33, name="case_c_normal", **SAMPLE_IMAGING),
    "case_d_thrombus": PhantomConfig(seed=44, name="case_d_thrombus", **SAMPLE_IMAGING,
                                     thrombus=ThrombusSpec(lower="iliac_confluence+15", upper="renal_veins-20",
                                                           occlusion=0.75)),
}
#: The cases committed under sample_dicom/ (the others are generated on demand).
COMMITTED = ("case_a_renal", "case_b_retrohepatic", "case_c_normal")


def sample_config(name: str, **overrides: Any) -> PhantomConfig:
    """A named case's config, optionally with fields replaced (e.g. ``matrix=512``)."""
    if name not in SAMPLE_CASES:
        raise InputError(f"unknown sample case {name!r}; known: {', '.join(SAMPLE_CASES)}")
    return replace(SAMPLE_CASES[name], **overrides)
