"""The drawn parameters of a randomized phantom case: documented ranges, one seed, one case.

`draw(seed)` returns a `RandomParams` (frozen dataclasses, plain numbers) drawn from a numpy
Generator seeded from the integer seed (PCG64: the same seed gives the same parameters on any
machine). Every range lives in `RANGES` (continuous: lo, hi, unit, reason) or `CHOICES` (discrete
values and their probabilities); docs/phantom.md shows the same table (`ranges_markdown()`).

Levels (z, mm) are relative to the iliac confluence (z = 0) of a head-first canonical frame
(LPS: +x patient left, +y posterior, +z head). Angles around the IVC follow the lesion convention:
0 = patient left, 90 = posterior, 180 = right, 270 = anterior. Features that a case does not have
(no duplicated vein, no tumor) are None.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass, replace
from typing import Any

import numpy as np

#: Seeds no method may be tuned on (scripts/evaluate.py --random: the benchmark).
TEST_SEEDS = range(100000, 100060)
#: Seeds for development and tuning.
TUNE_SEEDS = range(0, 200)


@dataclass(frozen=True)
class Range:
    lo: float
    hi: float
    unit: str
    why: str


#: Every continuous parameter: "group.field" -> documented range and its reason / source.
RANGES: dict[str, Range] = {
    # imaging
    "imaging.fov_margin_mm": Range(15, 70, "mm", "reconstruction FOV fitted to the body plus a margin"),
    "imaging.slice_thickness_mm": Range(0.6, 5.0, "mm", "clinical reconstructions: 0.6-1 mm thin, 2-3 mm, 5 mm"),
    "imaging.spacing_ratio": Range(0.7, 1.0, "", "slice spacing / thickness: overlapping or contiguous slices"),
    "imaging.noise_5mm_hu": Range(6, 14, "HU", "noise SD of a 5 mm slice; thinner slices scale by sqrt(5/t)"),
    "imaging.noise_hu": Range(6, 35, "HU", "resulting noise SD (capped: very noisy thin slices are resliced)"),
    "imaging.blur_mm": Range(0.5, 1.8, "mm", "in-plane PSF FWHM: sharp (0.5) to soft (1.8) kernels"),
    "imaging.table_x_mm": Range(-25, 25, "mm", "patient off the isocentre, lateral"),
    "imaging.table_y_mm": Range(-10, 25, "mm", "table height: body centre below/above the isocentre"),
    "imaging.bottom_margin_mm": Range(25, 70, "mm", "full FOV: first slice this far below the iliac confluence"),
    "imaging.top_margin_mm": Range(25, 80, "mm", "FOV ends this far above the cavoatrial junction"),
    "imaging.crest_mm": Range(15, 45, "mm", "crest-to-dome FOV: iliac crest this far above the confluence"),
    "imaging.kidney_margin_mm": Range(0, 25, "mm", "kidneys-up FOV: first slice below the lower kidney pole"),
    "imaging.dome_margin_mm": Range(0, 20, "mm", "crest-to-dome FOV: last slice above the right dome"),
    # body
    "body.width_scale": Range(0.86, 1.14, "", "lateral size of the abdominal cavity vs the template"),
    "body.depth_scale": Range(0.86, 1.14, "", "AP size of the abdominal cavity vs the template"),
    "body.fat": Range(0.3, 2.2, "", "subcutaneous fat, x 26 mm laterally (8-57 mm: lean to obese)"),
    "body.height_scale": Range(0.9, 1.1, "", "craniocaudal scale of skeleton and organ scaffold"),
    "body.spine_shift_mm": Range(-18, 12, "mm", "vertebral levels vs the vessels (confluence at L4/5-L5/S1)"),
    "body.vertebra_scale": Range(0.9, 1.12, "", "vertebral body size"),
    "body.psoas_scale": Range(0.7, 1.3, "", "muscle bulk"),
    # levels (relative to the iliac confluence)
    "levels.renal_right_z": Range(80, 130, "mm", "right renal vein ostium above the confluence (L5 to L1-L2)"),
    "levels.renal_left_dz": Range(0, 30, "mm", "left renal vein enters 0-30 mm above the right (clinical.md: 1-2 cm)"),
    "levels.hepatic_gap_mm": Range(80, 125, "mm", "right renal ostium to the lowest hepatic vein ostium"),
    "levels.caj_gap_mm": Range(12, 35, "mm", "lowest hepatic ostium to the cavoatrial junction"),
    "levels.dome_vs_caj_mm": Range(-14, 6, "mm", "right diaphragm dome vs the cavoatrial junction"),
    "levels.left_dome_drop_mm": Range(3, 20, "mm", "left dome lower than the right"),
    "levels.aortic_bifurcation_z": Range(5, 45, "mm", "aortic bifurcation above the iliac confluence (L4)"),
    # IVC
    "ivc.x_confluence_mm": Range(-28, -8, "mm", "IVC right of the midline at the confluence"),
    "ivc.bow_mm": Range(-12, 12, "mm", "lateral bow of the infra/suprarenal IVC (curvature)"),
    "ivc.bow_peak": Range(0.25, 0.75, "", "where between confluence and atrium the bow peaks (share)"),
    "ivc.y_shift_mm": Range(-6, 8, "mm", "AP position vs the spine"),
    "ivc.anterior_swing": Range(0.6, 1.4, "", "how far the upper IVC swings anteriorly into the atrium"),
    "ivc.transverse_mm": Range(18, 32, "mm", "at the renal veins: 25.8 +- 3.5 mm, +-2 SD (clinical.md, Cureus 2022)"),
    "ivc.ap_mm": Range(10, 23, "mm", "at the renal veins: 16.3 +- 2.9 mm, +-2 SD (clinical.md); <= transverse - 2"),
    "ivc.infrarenal_scale": Range(0.72, 1.0, "", "infrarenal IVC smaller than at the renal veins"),
    "ivc.infrarenal_flattening": Range(0.45, 0.95, "", "infrarenal AP / transverse"),
    "ivc.hepatic_scale": Range(0.95, 1.15, "", "retrohepatic IVC vs the renal level (2 cm below the RA: 26.2 mm)"),
    "ivc.wobble": Range(0.0, 0.12, "", "relative diameter irregularity along the vein"),
    # aorta and organs
    "aorta.radius_mm": Range(8.0, 13.5, "mm", "abdominal aorta diameter 16-27 mm (non-aneurysmal)"),
    "aorta.x_mm": Range(0, 16, "mm", "aorta left of the midline"),
    "aorta.bow_mm": Range(-8, 8, "mm", "lateral tortuosity"),
    "aorta.gap_mm": Range(1, 6, "mm", "aorta in front of the vertebral bodies"),
    "organs.spleen_scale": Range(0.75, 1.35, "", "spleen size"),
    "organs.stomach_scale": Range(0.7, 1.3, "", "stomach size (filling)"),
    "organs.pancreas_scale": Range(0.7, 1.2, "", "pancreas thickness"),
    # iliac veins
    "iliac.right_angle_deg": Range(10, 40, "deg", "right common iliac vein from the vertical (coronal)"),
    "iliac.left_angle_deg": Range(25, 62, "deg", "left common iliac vein: longer, more horizontal"),
    "iliac.radius_mm": Range(6.0, 9.5, "mm", "common iliac vein diameter 12-19 mm"),
    "iliac.posterior_slope": Range(0.1, 0.4, "", "iliac veins run posteriorly into the pelvis (mm per mm)"),
    "iliac.left_flattening": Range(0.5, 1.0, "", "left iliac vein compressed by the right iliac artery"),
    # renal veins
    "renal.right_radius_mm": Range(4.0, 6.5, "mm", "right renal vein diameter 8-13 mm"),
    "renal.left_radius_mm": Range(4.0, 6.0, "mm", "left renal vein diameter 8-12 mm"),
    "renal.left_nutcracker": Range(0.55, 1.0, "", "left renal vein narrowed between aorta and SMA (radius factor)"),
    "renal.right_angle_deg": Range(150, 215, "deg", "right ostium direction around the IVC (180 = right)"),
    "renal.left_angle_deg": Range(-60, 20, "deg", "left ostium direction around the IVC (0 = left, -90 anterior)"),
    "renal.bend_mm": Range(-8, 8, "mm", "sideways bend of each renal vein course"),
    "renal.accessory_dz_mm": Range(-25, 25, "mm",
                                   "duplicated right renal vein: ostium vs the main one (lumens kept 4 mm apart)"),
    "renal.accessory_radius_mm": Range(2.5, 4.5, "mm", "duplicated right renal vein radius"),
    "renal.retro_dz_mm": Range(-35, -8, "mm", "retroaortic limb ostium below the preaortic one (circumaortic)"),
    "renal.retro_only_dz_mm": Range(-25, 5, "mm", "retroaortic left renal vein ostium vs the right one (enters low)"),
    "renal.gonadal_dz_mm": Range(-45, -12, "mm", "right gonadal vein ostium below the right renal vein"),
    # kidneys (per side, right/left)
    "kidney.length_mm": Range(90, 130, "mm", "adult kidney length 10-12 cm"),
    "kidney.width_mm": Range(45, 62, "mm", "kidney width"),
    "kidney.depth_mm": Range(36, 52, "mm", "kidney AP thickness"),
    "kidney.x_mm": Range(62, 80, "mm", "centre from the midline (x width scale): lateral to the psoas"),
    "kidney.y_mm": Range(40, 62, "mm", "centre posterior of the body centre (x depth scale)"),
    "kidney.right_dz_mm": Range(-30, 5, "mm", "right kidney centre vs the right renal ostium (hilum lower)"),
    "kidney.left_dz_mm": Range(-30, 10, "mm", "left kidney centre vs the left renal ostium"),
    "kidney.axial_rotation_deg": Range(18, 45, "deg", "hilum faces antero-medially"),
    "kidney.coronal_tilt_deg": Range(4, 20, "deg", "upper pole medial"),
    # liver
    "liver.scale": Range(0.88, 1.22, "", "liver size (about 1.0-2.2 l)"),
    "liver.lower_edge_dz_mm": Range(-20, 45, "mm", "right lobe's lower edge vs the right renal ostium"),
    "liver.left_lobe_scale": Range(0.55, 1.4, "", "left lobe size"),
    "liver.caudate_scale": Range(0.7, 1.7, "", "caudate lobe size (hypertrophy pushes the IVC)"),
    "liver.riedel_mm": Range(25, 70, "mm", "Riedel lobe: tongue of the right lobe below its edge"),
    "liver.bump_amp": Range(0.03, 0.09, "", "surface irregularity"),
    "liver.bump_wavelength_mm": Range(25, 55, "mm", "shortest wavelength of the surface irregularity"),
    "liver.yaw_deg": Range(-10, 10, "deg", "rotation of the lobes in the axial plane"),
    "liver.dx_mm": Range(-10, 10, "mm", "right lobe lateral position"),
    # hepatic veins
    "hepatic.ostium_dz_mm": Range(0, 15, "mm", "each major ostium above the lowest one"),
    "hepatic.right_angle_deg": Range(165, 225, "deg", "right hepatic ostium direction (right-anterolateral)"),
    "hepatic.middle_angle_deg": Range(240, 285, "deg", "middle hepatic ostium direction (anterior)"),
    "hepatic.left_angle_deg": Range(275, 325, "deg", "left hepatic ostium direction (anterior-left)"),
    "hepatic.descent_deg": Range(8, 45, "deg", "veins reach the IVC from below: angle below horizontal"),
    "hepatic.length_mm": Range(60, 110, "mm", "length of each major vein inside the liver"),
    "hepatic.right_radius_mm": Range(4.5, 7.5, "mm", "right hepatic vein at the ostium (9-15 mm)"),
    "hepatic.middle_radius_mm": Range(4.0, 6.5, "mm", "middle hepatic vein at the ostium"),
    "hepatic.left_radius_mm": Range(3.5, 6.0, "mm", "left hepatic vein at the ostium"),
    "hepatic.trunk_mm": Range(5, 15, "mm", "common middle/left trunk length"),
    "hepatic.irhv_dz_mm": Range(-70, -25, "mm", "inferior right hepatic vein ostium below the lowest major one"),
    "hepatic.irhv_radius_mm": Range(2.5, 5.5, "mm", "inferior right hepatic vein radius"),
    "hepatic.irhv_angle_deg": Range(150, 205, "deg", "inferior right hepatic vein ostium direction"),
    # atrium and heart
    "atrium.lateral_mm": Range(20, 30, "mm", "right atrium half-size, lateral"),
    "atrium.ap_mm": Range(18, 28, "mm", "right atrium half-size, AP"),
    "atrium.cc_mm": Range(24, 34, "mm", "right atrium half-size, craniocaudal"),
    "atrium.dx_mm": Range(-10, 6, "mm", "atrium centre vs the IVC's end, lateral"),
    "atrium.dy_mm": Range(-12, 4, "mm", "atrium centre vs the IVC's end, AP"),
    "atrium.heart_scale": Range(0.85, 1.2, "", "heart size"),
    # enhancement (portal venous phase, varied timing and dose)
    "enhancement.aorta_hu": Range(120, 300, "HU", "issue 18: aorta 120-300 HU"),
    "enhancement.ivc_hu": Range(80, 200, "HU", "issue 18: suprarenal IVC 80-200 HU (clinical.md blood pool 130-200); "
                                               "0.45 x to aorta + 20, at least 20 HU from the liver"),
    "enhancement.infrarenal_share": Range(0.1, 0.95, "", "infrarenal blood enhancement: 40 HU + share x (IVC - 40)"),
    "enhancement.mixing_mm": Range(15, 55, "mm", "renal inflow mixes with the infrarenal blood over this length"),
    "enhancement.renal_vein_extra_hu": Range(0, 60, "HU", "renal vein blood brighter than the mixed IVC"),
    "enhancement.portal_hu": Range(110, 240, "HU", "portal vein: 0.5 x to aorta + 20"),
    "enhancement.hepatic_vein_factor": Range(0.7, 1.05, "", "hepatic veins vs portal vein (early phase: darker), "
                                                             "at least 25 HU above the liver"),
    "enhancement.liver_hu": Range(85, 135, "HU", "clinical.md: liver 90-130 HU; 45-75 HU + 0.3 x portal, "
                                                 "at least 25 HU under the portal vein"),
    "enhancement.spleen_dhu": Range(-10, 25, "HU", "spleen vs liver (clinical.md: spleen 100-130)"),
    "enhancement.kidney_cortex_hu": Range(150, 250, "HU", "clinical.md: kidney cortex 150-250 HU"),
    "enhancement.medulla_drop_hu": Range(0, 60, "HU", "corticomedullary difference (phase timing)"),
    "enhancement.atrium_mix": Range(0.2, 0.8, "", "right atrium HU between the IVC (0) and the aorta (1)"),
    "enhancement.tumor_hu": Range(40, 100, "HU", "clinical.md: leiomyosarcoma 40-90 HU, heterogeneous, "
                                                 "at least 20 HU under the enhanced lumen"),
    "enhancement.tumor_texture_hu": Range(8, 24, "HU", "tumor heterogeneity (coarse SD)"),
    "enhancement.necrosis_hu": Range(10, 30, "HU", "clinical.md: necrosis 10-30 HU"),
    "enhancement.calcification_hu": Range(300, 900, "HU", "dystrophic calcification"),
    "enhancement.thrombus_hu": Range(35, 65, "HU", "bland thrombus does not enhance"),
    # lesion
    "lesion.size_mm": Range(20, 150, "mm", "issue 18: tumors of 2-15 cm (largest dimension)"),
    "lesion.length_fraction": Range(0.6, 1.0, "", "craniocaudal length / largest dimension (room permitting)"),
    "lesion.section_fraction": Range(0.5, 1.0, "", "cross-section / largest dimension when the length is largest"),
    "lesion.ap_ratio": Range(0.65, 1.0, "", "tumor AP / transverse"),
    "lesion.intraluminal_scale": Range(1.0, 1.35, "", "intraluminal tumor: cross-section vs the IVC"),
    "lesion.direction_deg": Range(0, 360, "deg", "side of extraluminal growth"),
    "lesion.residual_lumen_mm": Range(2, 8, "mm", "residual lumen crescent (0 = occluded, drawn separately)"),
    "lesion.irregularity": Range(0.03, 0.3, "", "surface irregularity"),
    "lesion.necrosis": Range(0.0, 0.7, "", "necrotic core (share of the normalised radius)"),
    "lesion.calcification": Range(0.04, 0.2, "", "calcified share where calcified"),
    "lesion.invasion_mm": Range(8, 35, "mm", "tumor reach into an invaded vein beyond the IVC wall"),
    "lesion.intracardiac_mm": Range(8, 45, "mm", "upper pole above the cavoatrial junction"),
    "lesion.thrombus_below_mm": Range(15, 60, "mm", "bland thrombus below the tumor's lower pole"),
    "lesion.occlusion": Range(0.5, 1.0, "", "bland thrombus: share of the lumen width filled"),
    "lesion.margin_mm": Range(8, 30, "mm", "bland thrombus (alone): upper end below the renal inflow"),
}

#: Discrete parameters: "group.field" -> ((value, probability), ...) and the reason.
CHOICES: dict[str, tuple[tuple[tuple[Any, float], ...], str]] = {
    "imaging.matrix": (((256, 0.75), (320, 0.25)),
                       "in-plane matrix (clinical 512 at half to 5/8 resolution: generation in seconds); "
                       "320 only with slices of at least 1.5 mm (bounds a case's voxels)"),
    "imaging.patient_position": ((("HFS", 0.85), ("FFS", 0.15)), "head or feet first"),
    "imaging.crop": ((("full", 0.55), ("kidneys_up", 0.2), ("crest_to_dome", 0.25)),
                     "field of view: iliac veins to atrium; from the kidneys up; iliac crest to liver dome"),
    "renal.left_course": ((("preaortic", 0.8), ("retroaortic", 0.08), ("circumaortic", 0.12)),
                          "left renal vein course; real: retroaortic 2-3 %, circumaortic 2-9 % (raised here)"),
    "renal.right_duplicated": (((False, 0.8), (True, 0.2)), "two right renal veins (real: 10-30 %)"),
    "hepatic.common_trunk": (((False, 0.4), (True, 0.6)), "middle and left hepatic veins share a trunk (60-85 %)"),
    "hepatic.inferior_right": (((False, 0.75), (True, 0.25)), "inferior right hepatic vein (about 20-25 %)"),
    "hepatic.short_veins": (((0, 0.3), (1, 0.3), (2, 0.25), (3, 0.15)), "short (caudate) hepatic veins"),
    "liver.riedel": (((False, 0.85), (True, 0.15)), "Riedel lobe present"),
    "liver.gallbladder": (((False, 0.12), (True, 0.88)), "gallbladder present (absent after cholecystectomy)"),
    "lesion.kind": ((("none", 0.14), ("thrombus", 0.06), ("tumor", 0.8)), "tumor-free cases included"),
    "lesion.segments": (((("I",), 0.22), (("I", "II"), 0.25), (("II",), 0.2), (("II", "III"), 0.18),
                         (("III",), 0.07), (("I", "II", "III"), 0.08)),
                        "segments involved (registry: I 34-44 %, II 42-50 %, III 6-24 %)"),
    "lesion.intraluminal": (((False, 0.8), (True, 0.2)), "mostly intraluminal tumor"),
    "lesion.occluded": (((False, 0.75), (True, 0.25)), "no residual lumen along the tumor"),
    "lesion.calcified": (((False, 0.85), (True, 0.15)), "calcifications in the tumor"),
    "lesion.hepatic_invasion": (((False, 0.5), (True, 0.5)), "per hepatic vein whose ostium the tumor covers"),
    "lesion.renal_invasion": (((False, 0.6), (True, 0.4)), "per renal vein whose ostium the tumor covers"),
    "lesion.intracardiac": (((False, 0.65), (True, 0.35)), "segment III tumors entering the atrium"),
    "lesion.thrombus_below": (((False, 0.8), (True, 0.2)), "bland thrombus below the tumor (room permitting)"),
}

#: Enhancement of a portal-venous planning CT: portal and hepatic veins at least this much above the
#: liver (HU); the suprarenal IVC at least IVC_LIVER_CONTRAST_HU from it (brighter, or darker when
#: early); the tumor at least TUMOR_UNDER_LUMEN_HU under the enhanced lumen (clinical.md). Scans where
#: these vessels are isodense with the liver exist, but no method can find an invisible vein.
VEIN_OVER_LIVER_HU = 25.0
IVC_LIVER_CONTRAST_HU = 20.0
TUMOR_UNDER_LUMEN_HU = 20.0
#: Two ostia of one side (a duplicated right renal vein) keep their lumens this far apart (mm).
OSTIUM_GAP_MM = 4.0
#: Slices thinner than this (mm) come with the 256 matrix: a long thin-slice series at 320 would make
#: a case of 40+ million voxels.
THIN_SLICE_MM = 1.5
#: A segment I tumor keeps this far above the iliac confluence (mm): the confluence stays free.
CONFLUENCE_CLEARANCE_MM = 10.0
#: A tumor pole keeps this far from a segment boundary (mm), so that the truth's segments do not
#: hinge on a millimetre (pole and landmark errors of a few mm are expected of any method).
BOUNDARY_CLEARANCE_MM = 8.0
#: Every major hepatic vein ostium lies at least this far below the cavoatrial junction (mm): the veins
#: join the IVC under the diaphragm, which the IVC crosses 1-2 cm below the atrium (clinical.md).
HEPATIC_BELOW_CAJ_MM = 12.0
#: A pole keeps this far from each vein ostium's edge (mm): the ostium is clearly covered or clearly free.
OSTIUM_CLEARANCE_MM = 6.0
#: Tumor length at least (mm).
MIN_TUMOR_LENGTH_MM = 12.0
#: Tumor inside an invaded vein is painted this much wider than the vein (random_case.RANDOM_INVASION_WIDTH).
INVASION_WIDTH = 1.05
#: Bands (mm) a pole keeps out of, around the planner's thresholds (plan_rules.toml): the upper pole
#: vs the lowest hepatic ostium (R1's 10 mm clamp margin), vs the cavoatrial junction (R6's 20 mm),
#: and the intracardiac length (R7's 20 mm, PUTH-B).
RULE_BANDS = {"clamp_margin": (-17.0, -3.0), "elra_distance": (-27.0, -13.0), "intracardiac": (13.0, 27.0)}
#: Largest tumor cross-section (mm): the retroperitoneum between spine and abdominal wall.
MAX_TUMOR_SECTION_MM = 110.0


@dataclass(frozen=True)
class Imaging:
    matrix: int
    fov_margin_mm: float
    slice_thickness_mm: float
    spacing_ratio: float
    noise_5mm_hu: float
    noise_hu: float
    blur_mm: float
    patient_position: str
    table_x_mm: float
    table_y_mm: float
    crop: str
    bottom_margin_mm: float
    top_margin_mm: float
    crest_mm: float
    kidney_margin_mm: float
    dome_margin_mm: float

    @property
    def slice_spacing_mm(self) -> float:
        # Floored to 0.01 mm: never more than the thickness (gapless), never under 0.5 mm.
        return max(0.5, float(np.floor(self.slice_thickness_mm * self.spacing_ratio * 100.0 + 1e-9)) / 100.0)


@dataclass(frozen=True)
class Body:
    width_scale: float
    depth_scale: float
    fat: float
    height_scale: float
    spine_shift_mm: float
    vertebra_scale: float
    psoas_scale: float


@dataclass(frozen=True)
class Levels:
    renal_right_z: float
    renal_left_dz: float
    hepatic_gap_mm: float
    caj_gap_mm: float
    dome_vs_caj_mm: float
    left_dome_drop_mm: float
    aortic_bifurcation_z: float

    @property
    def hepatic_z(self) -> float:
        return self.renal_right_z + self.hepatic_gap_mm

    @property
    def caj_z(self) -> float:
        return self.hepatic_z + self.caj_gap_mm


@dataclass(frozen=True)
class IVC:
    x_confluence_mm: float
    bow_mm: float
    bow_peak: float
    y_shift_mm: float
    anterior_swing: float
    transverse_mm: float
    ap_mm: float
    infrarenal_scale: float
    infrarenal_flattening: float
    hepatic_scale: float
    wobble: float


@dataclass(frozen=True)
class Aorta:
    radius_mm: float
    x_mm: float
    bow_mm: float
    gap_mm: float


@dataclass(frozen=True)
class Organs:
    spleen_scale: float
    stomach_scale: float
    pancreas_scale: float


@dataclass(frozen=True)
class Iliac:
    right_angle_deg: float
    left_angle_deg: float
    radius_mm: float
    posterior_slope: float
    left_flattening: float


@dataclass(frozen=True)
class Renal:
    right_radius_mm: float
    left_radius_mm: float
    left_nutcracker: float
    right_angle_deg: float
    left_angle_deg: float
    right_bend_mm: float
    left_bend_mm: float
    left_course: str
    right_duplicated: bool
    accessory_dz_mm: float | None
    accessory_radius_mm: float | None
    retro_dz_mm: float | None
    gonadal_dz_mm: float


@dataclass(frozen=True)
class Kidney:
    length_mm: float
    width_mm: float
    depth_mm: float
    x_mm: float
    y_mm: float
    dz_mm: float
    axial_rotation_deg: float
    coronal_tilt_deg: float


@dataclass(frozen=True)
class Liver:
    scale: float
    lower_edge_dz_mm: float
    left_lobe_scale: float
    caudate_scale: float
    riedel: bool
    riedel_mm: float | None
    bump_amp: float
    bump_wavelength_mm: float
    yaw_deg: float
    dx_mm: float
    gallbladder: bool


@dataclass(frozen=True)
class Hepatic:
    right_dz_mm: float
    middle_dz_mm: float
    left_dz_mm: float
    right_angle_deg: float
    middle_angle_deg: float
    left_angle_deg: float
    right_descent_deg: float
    middle_descent_deg: float
    left_descent_deg: float
    right_length_mm: float
    middle_length_mm: float
    left_length_mm: float
    right_radius_mm: float
    middle_radius_mm: float
    left_radius_mm: float
    common_trunk: bool
    trunk_mm: float | None
    inferior_right: bool
    irhv_dz_mm: float | None
    irhv_radius_mm: float | None
    irhv_angle_deg: float | None
    short_veins: int


@dataclass(frozen=True)
class Atrium:
    lateral_mm: float
    ap_mm: float
    cc_mm: float
    dx_mm: float
    dy_mm: float
    heart_scale: float


@dataclass(frozen=True)
class Enhancement:
    aorta_hu: float
    ivc_hu: float
    infrarenal_share: float
    mixing_mm: float
    renal_vein_extra_hu: float
    portal_hu: float
    hepatic_vein_factor: float
    liver_hu: float
    spleen_dhu: float
    kidney_cortex_hu: float
    medulla_drop_hu: float
    atrium_mix: float
    tumor_hu: float
    tumor_texture_hu: float
    necrosis_hu: float
    calcification_hu: float
    thrombus_hu: float

    @property
    def hepatic_vein_hu(self) -> float:
        """Hepatic vein blood: a share of the portal's, at least VEIN_OVER_LIVER_HU above the liver."""
        return max(self.portal_hu * self.hepatic_vein_factor, self.liver_hu + VEIN_OVER_LIVER_HU)

    @property
    def infrarenal_hu(self) -> float:
        """Unenhanced blood (40 HU) returning from the legs, partly enhanced."""
        return 40.0 + self.infrarenal_share * (self.ivc_hu - 40.0)


@dataclass(frozen=True)
class Lesion:
    """The IVC lesion. Extents are (landmark, offset mm) pairs resolved on the generated centreline."""

    kind: str
    segments: tuple[str, ...] = ()
    size_mm: float | None = None
    lower: tuple[str, float] | None = None
    upper: tuple[str, float] | None = None
    transverse_mm: float | None = None
    ap_mm: float | None = None
    intraluminal: bool = False
    direction_deg: float | None = None
    residual_lumen_mm: float | None = None
    irregularity: float | None = None
    necrosis: float | None = None
    calcification: float = 0.0
    hepatic_veins_invaded: tuple[str, ...] = ()
    renal_veins_invaded: tuple[str, ...] = ()
    invasion_mm: float | None = None
    intracardiac_mm: float | None = None
    thrombus_below_mm: float | None = None
    occlusion: float | None = None


@dataclass(frozen=True)
class RandomParams:
    """A case's parameters; ``draws`` logs every value drawn, under its documented key, in draw order
    (some only feed derived values, e.g. a tumor's length fraction)."""

    seed: int
    imaging: Imaging
    body: Body
    levels: Levels
    ivc: IVC
    aorta: Aorta
    organs: Organs
    iliac: Iliac
    renal: Renal
    kidney_right: Kidney
    kidney_left: Kidney
    liver: Liver
    hepatic: Hepatic
    atrium: Atrium
    enhancement: Enhancement
    lesion: Lesion
    draws: dict[str, list[Any]] = field(default_factory=dict)


class _Drawer:
    """Draws documented parameters in a fixed order (the order is part of the seed's meaning) and logs them."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.log: dict[str, list[Any]] = {}

    def keep(self, key: str, value: Any) -> Any:
        self.log.setdefault(key, []).append(value)
        return value

    def u(self, key: str, lo: float | None = None, hi: float | None = None) -> float:
        """Uniform in the documented range of ``key`` (optionally narrowed, never widened)."""
        r = RANGES[key]
        a = r.lo if lo is None else max(r.lo, lo)
        b = r.hi if hi is None else min(r.hi, hi)
        if b < a:
            a = b = min(max(a, r.lo), r.hi)
        return self.keep(key, round(float(self.rng.uniform(a, b)), 3))

    def u_excluding(self, key: str, lo: float, hi: float, band: tuple[float, float]) -> float:
        """Uniform over [lo, hi] (within the documented range) outside ``band``; if nothing is left, the
        end of the window farthest from the band."""
        r = RANGES[key]
        a, b = max(r.lo, lo), min(r.hi, hi)
        pieces = _allowed(a, b, [band])
        if not pieces:
            mid = 0.5 * (band[0] + band[1])
            return self.keep(key, round(float(a if abs(a - mid) >= abs(b - mid) else b), 3))
        return self.keep(key, round(float(_pick(pieces, self.rng.uniform())), 3))

    def c(self, key: str) -> Any:
        options, _ = CHOICES[key]
        p = np.array([w for _, w in options], dtype=float)
        return self.keep(key, options[int(self.rng.choice(len(options), p=p / p.sum()))][0])


def draw(seed: int) -> RandomParams:
    """Every parameter of case ``seed`` (cheap: no geometry is built)."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    d = _Drawer(np.random.default_rng([int(seed), 18]))
    thickness = d.u("imaging.slice_thickness_mm")
    noise_5mm = d.u("imaging.noise_5mm_hu")
    noise = d.keep("imaging.noise_hu", round(float(np.clip(noise_5mm * np.sqrt(5.0 / thickness),
                                                           RANGES["imaging.noise_hu"].lo,
                                                           RANGES["imaging.noise_hu"].hi)), 2))
    matrix = int(d.c("imaging.matrix"))
    if thickness < THIN_SLICE_MM:
        matrix = min(matrix, 256)
    imaging = Imaging(
        matrix=matrix, fov_margin_mm=d.u("imaging.fov_margin_mm"),
        slice_thickness_mm=thickness, spacing_ratio=d.u("imaging.spacing_ratio"), noise_5mm_hu=noise_5mm,
        noise_hu=noise, blur_mm=d.u("imaging.blur_mm"), patient_position=d.c("imaging.patient_position"),
        table_x_mm=d.u("imaging.table_x_mm"), table_y_mm=d.u("imaging.table_y_mm"), crop=d.c("imaging.crop"),
        bottom_margin_mm=d.u("imaging.bottom_margin_mm"), top_margin_mm=d.u("imaging.top_margin_mm"),
        crest_mm=d.u("imaging.crest_mm"), kidney_margin_mm=d.u("imaging.kidney_margin_mm"),
        dome_margin_mm=d.u("imaging.dome_margin_mm"))
    body = Body(**{f.name: d.u(f"body.{f.name}") for f in fields(Body)})
    levels = Levels(**{f.name: d.u(f"levels.{f.name}") for f in fields(Levels)})
    transverse = d.u("ivc.transverse_mm")
    ivc = IVC(x_confluence_mm=d.u("ivc.x_confluence_mm"), bow_mm=d.u("ivc.bow_mm"), bow_peak=d.u("ivc.bow_peak"),
              y_shift_mm=d.u("ivc.y_shift_mm"), anterior_swing=d.u("ivc.anterior_swing"),
              transverse_mm=transverse, ap_mm=d.u("ivc.ap_mm", hi=transverse - 2.0),
              infrarenal_scale=d.u("ivc.infrarenal_scale"), infrarenal_flattening=d.u("ivc.infrarenal_flattening"),
              hepatic_scale=d.u("ivc.hepatic_scale"), wobble=d.u("ivc.wobble"))
    aorta = Aorta(**{f.name: d.u(f"aorta.{f.name}") for f in fields(Aorta)})
    organs = Organs(**{f.name: d.u(f"organs.{f.name}") for f in fields(Organs)})
    iliac = Iliac(**{f.name: d.u(f"iliac.{f.name}") for f in fields(Iliac)})
    left_course, duplicated = d.c("renal.left_course"), bool(d.c("renal.right_duplicated"))
    acc_dz = d.u("renal.accessory_dz_mm") if duplicated else None
    renal = Renal(
        right_radius_mm=d.u("renal.right_radius_mm"), left_radius_mm=d.u("renal.left_radius_mm"),
        left_nutcracker=d.u("renal.left_nutcracker"), right_angle_deg=d.u("renal.right_angle_deg"),
        left_angle_deg=d.u("renal.left_angle_deg"), right_bend_mm=d.u("renal.bend_mm"),
        left_bend_mm=d.u("renal.bend_mm"), left_course=left_course, right_duplicated=duplicated,
        accessory_dz_mm=acc_dz, accessory_radius_mm=d.u("renal.accessory_radius_mm") if duplicated else None,
        retro_dz_mm=(d.u("renal.retro_dz_mm") if left_course == "circumaortic" else
                     d.u("renal.retro_only_dz_mm") if left_course == "retroaortic" else None),
        gonadal_dz_mm=d.u("renal.gonadal_dz_mm"))
    if acc_dz is not None and renal.accessory_radius_mm is not None:
        # Two separate ostia: the lumens keep OSTIUM_GAP_MM apart (closer ones would merge into one).
        gap = renal.right_radius_mm + renal.accessory_radius_mm + OSTIUM_GAP_MM
        if abs(acc_dz) < gap:
            renal = replace(renal, accessory_dz_mm=round(float(np.copysign(gap, acc_dz if acc_dz else 1.0)), 3))
    kidneys = []
    for side in ("right", "left"):
        kidneys.append(Kidney(
            length_mm=d.u("kidney.length_mm"), width_mm=d.u("kidney.width_mm"), depth_mm=d.u("kidney.depth_mm"),
            x_mm=d.u("kidney.x_mm"), y_mm=d.u("kidney.y_mm"), dz_mm=d.u(f"kidney.{side}_dz_mm"),
            axial_rotation_deg=d.u("kidney.axial_rotation_deg"), coronal_tilt_deg=d.u("kidney.coronal_tilt_deg")))
    riedel = bool(d.c("liver.riedel"))
    liver = Liver(scale=d.u("liver.scale"), lower_edge_dz_mm=d.u("liver.lower_edge_dz_mm"),
                  left_lobe_scale=d.u("liver.left_lobe_scale"), caudate_scale=d.u("liver.caudate_scale"),
                  riedel=riedel, riedel_mm=d.u("liver.riedel_mm") if riedel else None,
                  bump_amp=d.u("liver.bump_amp"), bump_wavelength_mm=d.u("liver.bump_wavelength_mm"),
                  yaw_deg=d.u("liver.yaw_deg"), dx_mm=d.u("liver.dx_mm"), gallbladder=bool(d.c("liver.gallbladder")))
    dz = [d.u("hepatic.ostium_dz_mm") for _ in range(3)]
    # The lowest major ostium is the II/III boundary; all ostia stay HEPATIC_BELOW_CAJ_MM below the junction.
    cap = max(0.0, levels.caj_gap_mm - HEPATIC_BELOW_CAJ_MM)
    dz = [round(min(v - min(dz), cap), 3) for v in dz]
    trunk, irhv = bool(d.c("hepatic.common_trunk")), bool(d.c("hepatic.inferior_right"))
    hepatic = Hepatic(
        right_dz_mm=dz[0], middle_dz_mm=dz[1], left_dz_mm=dz[2],
        right_angle_deg=d.u("hepatic.right_angle_deg"), middle_angle_deg=d.u("hepatic.middle_angle_deg"),
        left_angle_deg=d.u("hepatic.left_angle_deg"),
        right_descent_deg=d.u("hepatic.descent_deg"), middle_descent_deg=d.u("hepatic.descent_deg"),
        left_descent_deg=d.u("hepatic.descent_deg"),
        right_length_mm=d.u("hepatic.length_mm"), middle_length_mm=d.u("hepatic.length_mm"),
        left_length_mm=d.u("hepatic.length_mm"),
        right_radius_mm=d.u("hepatic.right_radius_mm"), middle_radius_mm=d.u("hepatic.middle_radius_mm"),
        left_radius_mm=d.u("hepatic.left_radius_mm"),
        common_trunk=trunk, trunk_mm=d.u("hepatic.trunk_mm") if trunk else None,
        inferior_right=irhv, irhv_dz_mm=d.u("hepatic.irhv_dz_mm") if irhv else None,
        irhv_radius_mm=d.u("hepatic.irhv_radius_mm") if irhv else None,
        irhv_angle_deg=d.u("hepatic.irhv_angle_deg") if irhv else None,
        short_veins=int(d.c("hepatic.short_veins")))
    atrium = Atrium(**{f.name: d.u(f"atrium.{f.name}") for f in fields(Atrium)})
    # A portal-venous planning CT at varied timing and dose: the portal and hepatic veins stand out of
    # the liver, the IVC differs from it (brighter, or darker when early), the tumor enhances less than
    # the enhanced lumen (clinical.md). Only the infrarenal blood may be unenhanced (issue 18).
    aorta_hu = d.u("enhancement.aorta_hu")
    portal = d.u("enhancement.portal_hu", lo=0.5 * aorta_hu, hi=aorta_hu + 20.0)
    liver_hu = d.u("enhancement.liver_hu", lo=45 + 0.3 * portal, hi=min(75 + 0.3 * portal, portal - VEIN_OVER_LIVER_HU))
    ivc_hu = d.u_excluding("enhancement.ivc_hu", 0.45 * aorta_hu, aorta_hu + 20.0,
                           (liver_hu - IVC_LIVER_CONTRAST_HU, liver_hu + IVC_LIVER_CONTRAST_HU))
    enh = Enhancement(
        aorta_hu=aorta_hu, ivc_hu=ivc_hu, infrarenal_share=d.u("enhancement.infrarenal_share"),
        mixing_mm=d.u("enhancement.mixing_mm"), renal_vein_extra_hu=d.u("enhancement.renal_vein_extra_hu"),
        portal_hu=portal, hepatic_vein_factor=d.u("enhancement.hepatic_vein_factor"),
        liver_hu=liver_hu,
        spleen_dhu=d.u("enhancement.spleen_dhu"), kidney_cortex_hu=d.u("enhancement.kidney_cortex_hu"),
        medulla_drop_hu=d.u("enhancement.medulla_drop_hu"), atrium_mix=d.u("enhancement.atrium_mix"),
        tumor_hu=d.u("enhancement.tumor_hu", hi=ivc_hu - TUMOR_UNDER_LUMEN_HU),
        tumor_texture_hu=d.u("enhancement.tumor_texture_hu"),
        necrosis_hu=d.u("enhancement.necrosis_hu"), calcification_hu=d.u("enhancement.calcification_hu"),
        thrombus_hu=d.u("enhancement.thrombus_hu"))
    lesion = _draw_lesion(d, levels, ivc, renal, hepatic)
    return RandomParams(seed=int(seed), imaging=imaging, body=body, levels=levels, ivc=ivc, aorta=aorta, organs=organs,
                        iliac=iliac, renal=renal,
                        kidney_right=kidneys[0], kidney_left=kidneys[1], liver=liver, hepatic=hepatic,
                        atrium=atrium, enhancement=enh, lesion=lesion, draws=d.log)


def ostia_heights(levels: Levels, renal: Renal, hepatic: Hepatic) -> dict[str, tuple[float, float]]:
    """Height (z, mm) and radius of every ostium as the generator places them (see `varied.layout`)."""
    zr = levels.renal_right_z
    zl = zr + levels.renal_left_dz
    out = {"rv_right": (zr, renal.right_radius_mm)}
    if renal.left_course != "retroaortic":
        out["rv_left"] = (zl, renal.left_radius_mm)
    if renal.retro_dz_mm is not None:
        name = "rv_left" if renal.left_course == "retroaortic" else "rv_left_2"
        out[name] = ((zr if renal.left_course == "retroaortic" else zl) + renal.retro_dz_mm, renal.left_radius_mm)
    if renal.accessory_dz_mm is not None and renal.accessory_radius_mm is not None:
        out["rv_right_2"] = (zr + renal.accessory_dz_mm, renal.accessory_radius_mm)
    zh = levels.hepatic_z
    zm, zlft = zh + hepatic.middle_dz_mm, zh + hepatic.left_dz_mm
    if hepatic.common_trunk:
        zm = zlft = min(zm, zlft)
    out["hv_right"] = (zh + hepatic.right_dz_mm, hepatic.right_radius_mm)
    out["hv_middle"] = (zm, hepatic.middle_radius_mm)
    out["hv_left"] = (zlft, hepatic.left_radius_mm)
    return out


def _allowed(lo: float, hi: float, forbidden: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """[lo, hi] minus the forbidden intervals."""
    pieces = [(lo, hi)] if hi > lo else []
    for a, b in forbidden:
        pieces = [q for p0, p1 in pieces for q in ((p0, min(p1, a)), (max(p0, b), p1)) if q[1] - q[0] > 0.5]
    return pieces


def _pick(pieces: list[tuple[float, float]], u: float, target: float | None = None) -> float | None:
    """A point of the allowed pieces: the one nearest ``target`` or, without one, at share ``u`` of their length."""
    if not pieces:
        return None
    if target is not None:
        return min((float(np.clip(target, a, b)) for a, b in pieces), key=lambda v: abs(v - target))
    total = sum(b - a for a, b in pieces)
    t = u * total
    for a, b in pieces:
        if t <= b - a:
            return a + t
        t -= b - a
    return pieces[-1][1]


def _draw_lesion(d: _Drawer, levels: Levels, ivc: IVC, renal: Renal, hepatic: Hepatic) -> Lesion:
    """A tumor placed in the drawn segments (or a thrombus, or none), each pole clear of everything the
    truth's segments and the planner's rules compare it with: segment boundaries, each ostium, the
    10 mm clamp margin below the hepatic veins (R1), 20 mm to the cavoatrial junction (R6), 20 mm into
    the atrium (R7). So the expected plan never hinges on a millimetre.

    Heights come from the drawn levels (the IVC's arc length is a little longer than its height); each
    pole is stored as an offset from its nearest boundary landmark, resolved on the generated centreline.
    """
    kind = d.c("lesion.kind")
    ostia = ostia_heights(levels, renal, hepatic)
    renal_edge = max(z + r for k, (z, r) in ostia.items() if k.startswith("rv"))
    hep = min(z for k, (z, _) in ostia.items() if k.startswith("hv"))
    caj = levels.caj_z
    bounds = {"renal_veins": renal_edge, "hepatic_veins": hep, "cavoatrial_junction": caj}
    if kind == "none":
        return Lesion(kind="none")
    if kind == "thrombus":
        length, top = d.u("lesion.thrombus_below_mm"), d.u("lesion.margin_mm")
        low_ostium = min(z - r for k, (z, r) in ostia.items() if k.startswith("rv"))
        upper = min(renal_edge - top, low_ostium - OSTIUM_CLEARANCE_MM)
        lower = max(CONFLUENCE_CLEARANCE_MM, upper - length)
        return Lesion(kind="thrombus", lower=("renal_veins", round(lower - renal_edge, 1)),
                      upper=("renal_veins", round(upper - renal_edge, 1)), occlusion=d.u("lesion.occlusion"))
    segments = tuple(d.c("lesion.segments"))
    size = d.u("lesion.size_mm")
    intracardiac = "III" in segments and bool(d.c("lesion.intracardiac"))
    ic_mm = d.u("lesion.intracardiac_mm")
    if RULE_BANDS["intracardiac"][0] < ic_mm < RULE_BANDS["intracardiac"][1]:  # PUTH-B threshold (R7)
        ic_mm = RULE_BANDS["intracardiac"][0] if ic_mm < sum(RULE_BANDS["intracardiac"]) / 2 else \
            RULE_BANDS["intracardiac"][1]
    m = BOUNDARY_CLEARANCE_MM
    seg_range = {"I": (CONFLUENCE_CLEARANCE_MM, renal_edge), "II": (renal_edge, hep), "III": (hep, caj)}
    near_all = [(renal_edge - m, renal_edge + m), (hep - m, hep + m), (caj - m, caj + m)]
    near_all += [(z - r - OSTIUM_CLEARANCE_MM, z + r + OSTIUM_CLEARANCE_MM) for z, r in ostia.values()]
    upper_rules = [(hep + b0, hep + b1) for b0, b1 in (RULE_BANDS["clamp_margin"],)] + \
        [(caj + b0, caj + b1) for b0, b1 in (RULE_BANDS["elra_distance"],)]
    hi_pieces = _allowed(*seg_range[segments[-1]], near_all + upper_rules)
    if not intracardiac and not hi_pieces and segments[-1] == "III":
        intracardiac = True  # no clean spot below the junction: into the atrium
    # The lower pole leaves room for a clean upper pole above it; where its segment has no clean spot
    # (a short segment crowded by ostia), the tumor starts one segment lower.
    hi_max = caj + ic_mm if intracardiac else max((b for _, b in hi_pieces), default=seg_range[segments[-1]][1])
    u = d.rng.uniform()
    lo_z = None
    while lo_z is None:
        lo_pieces = _allowed(seg_range[segments[0]][0],
                             min(seg_range[segments[0]][1], hi_max - MIN_TUMOR_LENGTH_MM), near_all)
        lo_z = _pick(lo_pieces, u)
        if lo_z is None:
            if segments[0] == "I":  # cannot happen with the documented ranges; keep a valid tumor anyway
                lo_z = CONFLUENCE_CLEARANCE_MM
            else:
                segments = ({"II": "I", "III": "II"}[segments[0]], *segments)
    length_wanted = size * d.u("lesion.length_fraction")
    if intracardiac:
        hi_z = caj + ic_mm
    else:
        floor = lo_z + MIN_TUMOR_LENGTH_MM
        pieces = [(max(a, floor), b) for a, b in hi_pieces if b > floor]
        hi_z = _pick(pieces, 0.0, target=lo_z + length_wanted)
        if hi_z is None:
            hi_z = lo_z + MIN_TUMOR_LENGTH_MM
    length = hi_z - lo_z
    section = size * d.u("lesion.section_fraction") if length >= 0.95 * size else size
    intraluminal = bool(d.c("lesion.intraluminal"))
    ivc_t = ivc.transverse_mm * (ivc.infrarenal_scale if segments[0] == "I" else 1.0)
    transverse = ivc_t * d.u("lesion.intraluminal_scale") if intraluminal else \
        float(np.clip(section, ivc_t + 4.0, MAX_TUMOR_SECTION_MM))
    ap = transverse * d.u("lesion.ap_ratio")
    if intraluminal:
        ap = max(ap, ivc.ap_mm * 1.05)
    direction = d.u("lesion.direction_deg")
    residual = 0.0 if d.c("lesion.occluded") else d.u("lesion.residual_lumen_mm")
    invasion_mm = d.u("lesion.invasion_mm")
    descent = {"right": hepatic.right_descent_deg, "middle": hepatic.middle_descent_deg,
               "left": hepatic.left_descent_deg}

    def invadable(name: str, side: str) -> bool:
        """The tumor covers the ostium clearly, and the tumor grown into the vein stays above the lower
        pole (a vein's tumor must not become the pole)."""
        z, r = ostia[name]
        covered = lo_z < z - r - OSTIUM_CLEARANCE_MM and hi_z > z + r + OSTIUM_CLEARANCE_MM
        if name.startswith("hv"):
            depth = INVASION_WIDTH * r + max(invasion_mm - 4.0, 0.0) * float(np.sin(np.radians(descent[side] + 16.0)))
            return covered and z - depth > lo_z + OSTIUM_CLEARANCE_MM
        return covered

    hep_inv = tuple(side for side in ("right", "middle", "left")
                    if d.c("lesion.hepatic_invasion") and invadable(f"hv_{side}", side))
    ren_inv = tuple(side for side in ("right", "left")
                    if d.c("lesion.renal_invasion") and f"rv_{side}" in ostia and invadable(f"rv_{side}", side))
    calcification = d.u("lesion.calcification") if d.c("lesion.calcified") else 0.0
    below_mm = d.u("lesion.thrombus_below_mm") if d.c("lesion.thrombus_below") else None
    if below_mm is not None and lo_z - below_mm < CONFLUENCE_CLEARANCE_MM:
        below_mm = None  # no room above the confluence

    def anchored(z: float, among: tuple[str, ...] = tuple(bounds)) -> tuple[str, float]:
        name = min(among, key=lambda k: abs(z - bounds[k]))
        return name, round(z - bounds[name], 1)

    # An upper pole in segment III is placed against the junction (R6, R7 measure from it); lower in II/I
    # against the nearer of the renal inflow and the hepatic veins (R1 measures from the latter).
    upper = anchored(hi_z, ("cavoatrial_junction",) if hi_z > hep else ("renal_veins", "hepatic_veins"))
    return Lesion(
        kind="tumor", segments=segments, size_mm=size, lower=anchored(lo_z),
        upper=("cavoatrial_junction", round(ic_mm, 1)) if intracardiac else upper,
        transverse_mm=round(transverse, 1), ap_mm=round(ap, 1), intraluminal=intraluminal, direction_deg=direction,
        residual_lumen_mm=residual, irregularity=d.u("lesion.irregularity"), necrosis=d.u("lesion.necrosis"),
        calcification=calcification, hepatic_veins_invaded=hep_inv, renal_veins_invaded=ren_inv,
        invasion_mm=invasion_mm, intracardiac_mm=ic_mm if intracardiac else None,
        thrombus_below_mm=below_mm, occlusion=d.u("lesion.occlusion") if below_mm is not None else None)


def flat(params: Any, prefix: str = "") -> dict[str, Any]:
    """``{"group.field": value}`` of a parameter tree (for range checks and tables)."""
    out: dict[str, Any] = {}
    for f in fields(params):
        value = getattr(params, f.name)
        key = f"{prefix}{f.name}"
        if is_dataclass(value):
            out.update(flat(value, key + "."))
        else:
            out[key] = value
    return out


def ranges_markdown() -> str:
    """The documented ranges as a Markdown table (docs/phantom.md shows it)."""
    lines = ["| parameter | range | unit | why / source |", "|---|---|---|---|"]
    for key, r in RANGES.items():
        lines.append(f"| `{key}` | {r.lo:g} .. {r.hi:g} | {r.unit} | {r.why} |")
    lines += ["", "| parameter | values (probability) | why / source |", "|---|---|---|"]
    for key, (options, why) in CHOICES.items():
        values = ", ".join(f"{'-'.join(v) if isinstance(v, tuple) else v} ({p:g})" for v, p in options)
        lines.append(f"| `{key}` | {values} | {why} |")
    return "\n".join(lines)
