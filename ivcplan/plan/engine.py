"""Apply R1-R9 to a report's facts and assemble the plan.

Order of the decision (domain.md's rules; thresholds from the rules file):
1. R9 first: IVC or tumor not found, low tumor confidence, or a landmark the decision needs not
   found / low confidence -> approach "none" and nothing else.
2. Approach: R1 (segments I-II, upper pole >= margin below the hepatic vein ostia) -> conventional
   with infrahepatic clamping. Otherwise the tumor reaches the retrohepatic IVC: R5 (all ostia free)
   -> conventional under total vascular exclusion; R6 (an ostium invaded, segment III, upper pole
   within 20 mm of the cavoatrial junction or above) -> ELRA. Invaded ostia without R6 match no rule
   (approach "none", flagged); unknown hepatic vein status there is an R9 block.
3. R7 (intracardiac) replaces the vascular control by cardiopulmonary bypass; PUTH-B beyond 20 mm.
4. IVC management: R2 ligation (complete occlusion + collateral return + infrarenal, never with
   ELRA); otherwise R3: patch under the circumferential limit, else a graft of 0.6 x the IVC
   diameter above the tumor clamped to 12-20 mm (ELRA always grafts).
5. R4 renal veins; R8 remnant check whenever ELRA is suggested.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ivcplan.plan.facts import Facts
from ivcplan.plan.rules import RuleSet, load_rules

log = logging.getLogger(__name__)

#: Decimal places of the millimetre / ratio values shown in the plan.
MM_DECIMALS = 1
RATIO_DECIMALS = 3


@dataclass(frozen=True)
class FiredRule:
    id: str
    text: str
    source: str
    values: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "source": self.source, "values": dict(self.values)}


@dataclass(frozen=True)
class Plan:
    """The report's ``plan`` section (see ``to_dict``)."""

    approach: str  # "conventional" | "elra" | "none"
    vascular_control: str | None
    ivc_reconstruction: str | None  # "ligation" | "patch" | "graft"
    graft_diameter_mm: float | None
    renal_vein_handling: Mapping[str, str | None]
    liver_resection: str | None  # "right_hepatectomy" | "left_hepatectomy" | None
    rules: tuple[FiredRule, ...]
    not_fired: Mapping[str, str]  # rule id -> why it did not fire (or could not be assessed)
    flags: tuple[str, ...]
    disclaimer: str
    rules_file: str = ""

    def fired(self, rule_id: str) -> FiredRule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    @property
    def fired_ids(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.rules)

    def to_dict(self) -> dict[str, Any]:
        return {
            "approach": self.approach,
            "vascular_control": self.vascular_control,
            "ivc_reconstruction": self.ivc_reconstruction,
            "graft_diameter_mm": self.graft_diameter_mm,
            "renal_vein_handling": dict(self.renal_vein_handling),
            "liver_resection": self.liver_resection,
            "rules": [r.to_dict() for r in self.rules],
            "rules_not_fired": [{"id": k, "reason": v} for k, v in sorted(self.not_fired.items())],
            "flags": list(self.flags),
            "disclaimer": self.disclaimer,
            "rules_file": self.rules_file,
        }


@lru_cache(maxsize=1)
def _default_rules() -> RuleSet:
    return load_rules(None)


def suggest(facts: Mapping[str, Any], rules: RuleSet | None = None) -> Plan:
    """Decision support from a report's sections; ``rules`` defaults to the shipped rules file."""
    ruleset = _default_rules() if rules is None else rules
    return _Planner(Facts.from_mapping(facts), ruleset).run()


def _r(value: float | None, decimals: int = MM_DECIMALS) -> float | None:
    return None if value is None else round(float(value), decimals)


def _sorted(values: frozenset[str] | None) -> list[str] | None:
    order = {"right": 0, "middle": 1, "left": 2, "I": 0, "II": 1, "III": 2}
    return None if values is None else sorted(values, key=lambda v: order.get(v, 9))


@dataclass
class _Planner:
    facts: Facts
    rules: RuleSet
    fired: list[FiredRule] = field(default_factory=list)
    not_fired: dict[str, str] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)

    # -- helpers ------------------------------------------------------------------------------
    def fire(self, rule_id: str, values: Mapping[str, Any], text_key: str = "text") -> None:
        rule = self.rules.rules[rule_id]
        shown = {**values, **self.rules.thresholds_of(rule_id)}
        self.fired.append(FiredRule(rule_id, self.rules.text(rule_id, text_key), rule.source, shown))
        self.not_fired.pop(rule_id, None)

    def skip(self, rule_id: str, reason: str) -> None:
        self.not_fired[rule_id] = reason

    def plan(self, approach: str = "none", *, vascular_control: str | None = None,
             ivc_reconstruction: str | None = None, graft_diameter_mm: float | None = None,
             renal: Mapping[str, str | None] | None = None, liver_resection: str | None = None) -> Plan:
        if approach == "none":
            self.flags.append("No suggestion: refer the case to the multidisciplinary team for review.")
        return Plan(approach, vascular_control, ivc_reconstruction, graft_diameter_mm,
                    dict(renal or {"right": None, "left": None}), liver_resection, tuple(self.fired),
                    dict(self.not_fired), tuple(dict.fromkeys(self.flags)), self.rules.disclaimer,
                    self.rules.path)

    @property
    def margin(self) -> float:
        return self.rules.value("min_upper_pole_margin_mm")

    # -- the decision ---------------------------------------------------------------------------
    def run(self) -> Plan:
        blockers = self.r9_blockers()
        if blockers:
            return self.block(blockers)
        f = self.facts
        segments = f.segments or frozenset()
        approach, control = self.approach(segments)
        if approach == "blocked":
            return self.plan()
        self.general_flags(segments)
        if approach == "none":
            return self.plan()
        control = self.r7(control)
        reconstruction, graft = self.ivc_management(approach, segments)
        renal = self.r4(segments)
        resection = self.r8(approach)
        return self.plan(approach, vascular_control=control, ivc_reconstruction=reconstruction,
                         graft_diameter_mm=graft, renal=renal, liver_resection=resection)

    def required_landmarks(self) -> tuple[str, ...]:
        f = self.facts
        segments = f.segments or frozenset()
        needed = ["renal_veins"]
        if segments != {"I"}:  # an infrarenal-only tumor lies below the hepatic veins whatever their level
            needed.append("hepatic_veins")
        near_hepatic = f.d_upper_to_hepatic_mm is not None and f.d_upper_to_hepatic_mm < self.margin
        if "III" in segments or near_hepatic or f.hepatic_invaded or f.intracardiac:
            needed.append("cavoatrial_junction")
        return tuple(needed)

    def r9_blockers(self) -> list[str]:
        f = self.facts
        reasons: list[str] = []
        if f.ivc_detected is not True:
            reasons.append("IVC not detected" if f.ivc_detected is False else "IVC detection unknown")
        if f.tumor_present is not True:
            reasons.append("no tumor found" if f.tumor_present is False else "tumor presence unknown")
            return reasons
        min_tumor = self.rules.value("min_tumor_confidence")
        if f.tumor_confidence is not None and f.tumor_confidence < min_tumor:
            reasons.append(f"tumor confidence {f.tumor_confidence:.2f} below {min_tumor:g}")
        if not f.segments:
            reasons.append("IVC segments occupied by the tumor unknown")
            return reasons
        min_conf = self.rules.value("min_landmark_confidence")
        for name in self.required_landmarks():
            mark = f.landmarks[name]
            if not mark.found:
                reasons.append(f"landmark {name} not found (outside the field of view or not detected)")
            elif mark.confidence is None:
                reasons.append(f"landmark {name} has no confidence")
            elif mark.confidence < min_conf:
                reasons.append(f"landmark {name} confidence {mark.confidence:.2f} below {min_conf:g}")
        needed = self.required_landmarks()
        if "hepatic_veins" in needed and f.d_upper_to_hepatic_mm is None:
            reasons.append("distance from the upper pole to the hepatic vein ostia unknown")
        if "cavoatrial_junction" in needed and f.d_upper_to_caj_mm is None:
            reasons.append("distance from the upper pole to the cavoatrial junction unknown")
        return reasons

    def block(self, reasons: list[str]) -> Plan:
        f = self.facts
        values = {"reasons": reasons, "tumor_confidence": f.tumor_confidence,
                  "landmark_confidence": {k: v.confidence for k, v in f.landmarks.items()}}
        self.fire("R9", values)
        self.flags.extend(f"R9: {reason}" for reason in reasons)
        return self.plan()

    def approach(self, segments: frozenset[str]) -> tuple[str, str | None]:
        """(approach, vascular control) from R1, R5, R6; ("blocked", None) when R9 stops here."""
        f = self.facts
        d_hv = f.d_upper_to_hepatic_mm
        values_r1 = {"segments": _sorted(segments), "distance_upper_pole_to_hepatic_veins_mm": _r(d_hv)}
        only_low = segments <= {"I", "II"}
        below = d_hv >= self.margin if d_hv is not None else segments == {"I"}
        if only_low and below:
            if d_hv is None:
                self.flags.append("Hepatic vein ostia not located; the tumor is infrarenal (segment I only), "
                                  "so it lies below them and the R1 margin is taken as met.")
            self.fire("R1", values_r1)
            for rid in ("R5", "R6"):
                self.skip(rid, "tumor does not reach the retrohepatic IVC (R1 applies)")
            return "conventional", "infrahepatic_clamping"
        self.skip("R1", "tumor in segment III" if not only_low else
                  f"upper pole {d_hv:.1f} mm below the hepatic vein ostia, under the {self.margin:g} mm margin")

        invaded = f.hepatic_invaded
        if invaded is None:
            self.fire("R9", {"reasons": ["hepatic vein invasion unknown while the tumor reaches the retrohepatic "
                                         "IVC (R5 and R6 cannot be told apart)"], "segments": _sorted(segments)})
            self.flags.append("R9: hepatic vein invasion unknown; R5 (ostia free) and R6 (ostium invaded) "
                              "cannot be told apart")
            return "blocked", None
        d_caj = f.d_upper_to_caj_mm
        if not invaded:
            self.fire("R5", {"segments": _sorted(segments), "distance_upper_pole_to_hepatic_veins_mm": _r(d_hv),
                             "hepatic_veins_invaded": [],
                             "min_upper_pole_margin_mm": self.margin})
            self.skip("R6", "no hepatic vein ostium invaded")
            return "conventional", "total_vascular_exclusion"

        self.skip("R5", f"hepatic vein ostium invaded: {', '.join(_sorted(invaded) or [])}")
        max_caj = self.rules.value("max_upper_pole_to_cavoatrial_junction_mm")
        values_r6 = {"hepatic_veins_invaded": _sorted(invaded), "segments": _sorted(segments),
                     "distance_upper_pole_to_cavoatrial_junction_mm": _r(d_caj)}
        if "III" in segments and d_caj is not None and d_caj <= max_caj:
            self.fire("R6", values_r6)
            return "elra", "total_vascular_exclusion"
        why = ("tumor not in segment III" if "III" not in segments
               else f"upper pole {d_caj:.1f} mm below the cavoatrial junction, more than {max_caj:g} mm")
        self.skip("R6", why)
        self.flags.append(f"Hepatic vein ostium invaded ({', '.join(_sorted(invaded) or [])}) but R6 does not apply "
                          f"({why}), and R5 needs free ostia: no default rule covers this case (in-situ resection "
                          "with hepatectomy or ELRA): multidisciplinary review.")
        return "none", None

    def r7(self, control: str | None) -> str | None:
        f = self.facts
        d_caj = f.d_upper_to_caj_mm
        intracardiac = f.intracardiac if f.intracardiac is not None else (d_caj < 0 if d_caj is not None else None)
        if intracardiac is None:
            self.skip("R7", "tumor does not reach the cavoatrial junction region (R1 applies)")
            return control
        if not intracardiac:
            self.skip("R7", "no intracardiac extension")
            return control
        length = f.intracardiac_length_mm
        if length is None and d_caj is not None:
            length = max(0.0, -d_caj)
        puth_b = self.rules.value("puth_b_min_intracardiac_mm")
        grade = None if length is None else ("PUTH-B" if length > puth_b else "not PUTH-B")
        self.fire("R7", {"intracardiac_length_mm": _r(length), "puth_grade": grade,
                         "distance_upper_pole_to_cavoatrial_junction_mm": _r(d_caj)})
        if length is None:
            self.flags.append("Intracardiac extension: length into the atrium unknown (PUTH grade not assessed).")
        elif length > puth_b:
            self.flags.append(f"Intracardiac extension {length:.1f} mm into the right atrium: PUTH-B "
                              f"(more than {puth_b:g} mm); cardiopulmonary bypass.")
        else:
            self.flags.append(f"Intracardiac extension {length:.1f} mm into the right atrium; "
                              "cardiopulmonary bypass.")
        return "cardiopulmonary_bypass"

    def ivc_management(self, approach: str, segments: frozenset[str]) -> tuple[str, float | None]:
        f = self.facts
        infrarenal = segments == {"I"}
        if approach == "elra":
            self.skip("R2", "ELRA replaces the retrohepatic IVC: reconstruction needed")
        elif not infrarenal:
            self.skip("R2", "tumor not infrarenal")
        elif f.complete_occlusion is None:
            self.skip("R2", "complete occlusion not assessed")
            self.flags.append("IVC occlusion not assessed: ligation (R2) was not considered.")
        elif not f.complete_occlusion:
            self.skip("R2", "IVC not completely occluded")
        elif f.collateral_return is None:
            self.skip("R2", "collateral return not assessed")
            self.flags.append("IVC completely occluded below the renal veins but collateral return not assessed: "
                              "ligation (R2) may be acceptable if collaterals are confirmed.")
        elif not f.collateral_return:
            self.skip("R2", "no collateral return")
        else:
            self.fire("R2", {"complete_occlusion": True, "collateral_return": True, "segments": _sorted(segments),
                             "max_lumen_occlusion_pct": _r(f.max_occlusion_pct)})
            self.skip("R3", "IVC ligation (R2) instead of reconstruction")
            return "ligation", None

        degrees = f.circumferential_deg
        patch_max = self.rules.value("patch_max_circumferential_deg")
        if approach != "elra" and degrees is not None and degrees < patch_max:
            self.fire("R3", {"max_circumferential_involvement_deg": _r(degrees)}, text_key="text_patch")
            return "patch", None
        if approach != "elra" and degrees is None:
            self.flags.append("Circumferential wall involvement unknown: a graft is assumed; a patch may suffice.")
        if f.complete_occlusion:
            self.flags.append("IVC completely occluded at the tumor: reconstruction keeps the venous return "
                              "(ligation criteria of R2 not met).")
        graft = None
        above = f.ivc_diameter_above_mm
        if above is None:
            self.flags.append("IVC diameter above the tumor unknown: graft diameter not computed.")
        else:
            raw = self.rules.value("graft_ratio") * above
            graft = _r(min(max(raw, self.rules.value("graft_min_mm")), self.rules.value("graft_max_mm")))
        self.fire("R3", {"ivc_diameter_above_mm": _r(above), "max_circumferential_involvement_deg": _r(degrees),
                         "complete_occlusion": f.complete_occlusion, "graft_diameter_mm": graft})
        return "graft", graft

    def r4(self, segments: frozenset[str]) -> dict[str, str | None]:
        involved = self.facts.renal_involved
        if involved is None:
            self.skip("R4", "renal vein involvement not assessed")
            if segments & {"I", "II"}:
                self.flags.append("Renal vein involvement not assessed; the tumor is near the renal vein inflow.")
            return {"right": None, "left": None}
        if not involved:
            self.skip("R4", "renal vein inflow free")
            return {"right": "preserve", "left": "preserve"}
        self.fire("R4", {"renal_veins_involved": _sorted(involved),
                         "distance_lower_pole_to_renal_veins_mm": _r(self.facts.d_lower_to_renal_mm)})
        return {"right": "reimplant_or_reconstruct" if "right" in involved else "preserve",
                "left": "ligate_if_collaterals_patent" if "left" in involved else "preserve"}

    def r8(self, approach: str) -> str | None:
        f = self.facts
        if approach != "elra":
            self.skip("R8", "no hepatectomy or ELRA suggested")
            return None
        invaded = f.hepatic_invaded or frozenset()
        if invaded == {"right", "middle", "left"}:
            self.skip("R8", "all three hepatic veins invaded: no remnant with an intact outflow to estimate")
            self.flags.append("All three hepatic vein ostia invaded: the remnant needs back-table venous "
                              "reconstruction; future liver remnant not estimated.")
            return None
        # The FLR estimate is the left liver (right hepatectomy); a left-sided invasion keeps the right liver.
        side = "left_hepatectomy" if "left" in invaded and "right" not in invaded else "right_hepatectomy"
        if "middle" in invaded:
            self.flags.append("Middle hepatic vein invaded: an extended resection leaves less than the "
                              "estimated remnant.")
        ratio = f.flr_ratio
        if ratio is not None and side == "left_hepatectomy":
            ratio = 1.0 - ratio
        compromised = f.prior_chemotherapy is True or f.liver_fibrosis is True
        base = self.rules.value("min_flr_ratio")
        strict = self.rules.value("min_flr_ratio_compromised")
        minimum = strict if compromised else base
        values = {"liver_resection": side, "remnant_ratio": _r(ratio, RATIO_DECIMALS),
                  "flr_ml": _r(f.flr_ml), "liver_volume_ml": _r(f.liver_volume_ml), "flr_method": f.flr_method,
                  "prior_chemotherapy": f.prior_chemotherapy, "liver_fibrosis": f.liver_fibrosis,
                  "applied_min_ratio": minimum}
        if ratio is None:
            self.skip("R8", "future liver remnant not estimated")
            self.flags.append("Future liver remnant unknown (liver or hepatic veins not segmented): "
                              "R8 not assessed; volumetry needed before ELRA.")
            return side
        if ratio < minimum:
            self.fire("R8", values)
            self.flags.append(f"Insufficient future liver remnant: {ratio:.1%} of the total liver volume, below "
                              f"{minimum:.0%}; consider portal vein embolisation.")
            return side
        self.skip("R8", f"remnant {ratio:.1%} of the total liver volume, at least {minimum:.0%}")
        if not compromised and ratio < strict and (f.prior_chemotherapy is None or f.liver_fibrosis is None):
            self.flags.append(f"Future liver remnant {ratio:.1%} passes {base:.0%} but not the {strict:.0%} that "
                              "applies after chemotherapy or with fibrosis: history not given.")
        return side

    def general_flags(self, segments: frozenset[str]) -> None:
        f = self.facts
        if f.hepatic_abutting:
            self.flags.append(f"Hepatic vein(s) abutting the tumor ({', '.join(_sorted(f.hepatic_abutting) or [])}): "
                              "invasion cannot be excluded on CT.")
        if f.contrast_phase == "non_contrast":
            self.flags.append("Non-contrast CT: vessel invasion and occlusion are unreliable.")
        if f.growth_pattern in ("extraluminal", "both") and f.adjacent_organs:
            self.flags.append(f"Extraluminal growth in contact with {', '.join(f.adjacent_organs)}: en-bloc "
                              "resection of adjacent structures may be needed.")
        min_conf = self.rules.value("min_landmark_confidence")
        for name, mark in f.landmarks.items():
            if name in self.required_landmarks():
                continue
            if mark.found and mark.confidence is not None and mark.confidence < min_conf:
                self.flags.append(f"Landmark {name} has low confidence ({mark.confidence:.2f}); not used.")
        if "I" in segments and not f.landmarks["iliac_confluence"].found:
            self.flags.append("Iliac confluence not located: the lower resection margin is unknown.")
