"""Synthetic contrast CT phantoms of the abdomen and lower chest, with ground truth.

``generate(PhantomConfig(...))`` builds a case (CT volume, truth labelmap, truth dict computed from
the masks); ``write_case(case, outdir)`` writes it as a DICOM series plus truth.nii.gz/truth.json.
"""

from ivcplan.phantom.config import PhantomConfig, ThrombusSpec, TumorSpec
from ivcplan.phantom.generate import PhantomCase, generate
from ivcplan.phantom.samples import SAMPLE_CASES, sample_config
from ivcplan.phantom.truth import expected_plan
from ivcplan.phantom.write import write_case

__all__ = ["SAMPLE_CASES", "PhantomCase", "PhantomConfig", "ThrombusSpec", "TumorSpec", "expected_plan",
           "generate", "sample_config", "write_case"]
