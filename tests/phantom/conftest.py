"""Small phantom cases shared by the phantom tests (coarse grids: seconds, not minutes)."""

from __future__ import annotations

import pytest

from ivcplan.phantom import PhantomConfig, ThrombusSpec, TumorSpec, generate

#: Coarse imaging for tests: 4 mm pixels, 6 mm slices over the full iliac-to-atrium field of view.
SMALL = {"matrix": 96, "pixel_mm": 4.0, "slice_spacing_mm": 6.0}


@pytest.fixture(scope="session")
def tumor_case():
    spec = TumorSpec(lower="cavoatrial_junction-85", upper="cavoatrial_junction+15", transverse_mm=56, ap_mm=44,
                     direction_deg=130, residual_lumen_mm=5, hepatic_veins_invaded=("right",))
    return generate(PhantomConfig(seed=5, name="small_tumor", tumor=spec, **SMALL))


@pytest.fixture(scope="session")
def normal_ffs_case():
    return generate(PhantomConfig(seed=6, name="small_ffs", patient_position="FFS", **SMALL))


@pytest.fixture(scope="session")
def thrombus_case():
    spec = ThrombusSpec(lower="iliac_confluence+10", upper="renal_veins-10", occlusion=0.8)
    return generate(PhantomConfig(seed=7, name="small_thrombus", thrombus=spec, **SMALL))
