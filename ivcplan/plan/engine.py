"""Apply R1-R9 to a report's facts and assemble the plan.

Order of the decision (the rules and every threshold, with units and sources, are in the rules file,
``plan_rules.toml``; docs/rules.md lists them):
1. R9 first: IVC or tumor not found, low tumor confidence, or a landmark the decision needs not
   found / low confidence -> approach "none" and nothing else.
2. Approach: R1 (segments I-II, upper pole far enough below the hepatic vein ostia) -> conventional,
   IVC clamped below the liver when the upper pole also leaves clamp room below the liver's caudal
   edge, else below the hepatic veins after liver mobilisation (flag). Otherwise the tumor reaches the
   retrohepatic IVC near the hepatic veins: R5 (all ostia free) -> conventional under total vascular
   exclusion; R6 (an ostium invaded, segment III, upper pole near the cavoatrial junction or above)
   -> ELRA. Invaded ostia without R6 match no rule (approach "none", flagged); unknown hepatic vein
   status there is an R9 block.
3. R7: a tumor entering the atrium -> cardiopulmonary bypass (the intrapericardial IVC wall is
   involved: PUTH-B); a tumor above the caval hiatus or just below it -> intrapericardial or
   suprahepatic control, bypass on standby (a flag; control stays total vascular exclusion).
4. IVC management: R2 ligation (no residual lumen over a length + collateral return + infrarenal,
   never with ELRA); otherwise R3: a patch under the circumferential limit, else a graft sized on the
   transverse diameter of the normal IVC at the upper resection margin, within bounds, as long as the
   tumor plus margins (ELRA always grafts).
5. R4 renal veins; R8 remnant check whenever a hepatectomy or ELRA is suggested (caudate excluded,
   body weight when known); ELRA's anhepatic-phase support and in-situ / ante-situm alternatives.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ivcplan.plan.facts import DIAMETER_LEVELS, LANDMARK_NAMES, Facts
from ivcplan.plan.rules import RuleSet, load_rules
from ivcplan.vocabulary import distance_words, field_name, label_name, landmark_short

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
    references: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "source": self.source, "values": dict(self.values),
                "references": list(self.references)}


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
    rules_sha256: str = ""
    graft_length_mm: float | None = None
    graft_sizing: Mapping[str, Any] | None = None  # source level, diameter, ratio, bounds
    upper_clamp_site: str | None = None
    liver_mobilisation: bool | None = None
    bypass_standby: bool | None = None
    anhepatic_support: tuple[Mapping[str, Any], ...] | None = None
    elra_alternatives: tuple[Mapping[str, Any], ...] | None = None
    references: tuple[Mapping[str, Any], ...] = ()
    remnant: Mapping[str, Any] | None = None  # the remnant a suggested hepatectomy leaves (R8's numbers)
    #: Decisions left out because a landmark they rest on is missing or doubtful: decision -> why.
    withheld: Mapping[str, str] = field(default_factory=dict)

    def fired(self, rule_id: str) -> FiredRule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    @property
    def fired_ids(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.rules)

    def to_dict(self) -> dict[str, Any]:
        return {
            "approach": self.approach,
            "vascular_control": self.vascular_control,
            "upper_clamp_site": self.upper_clamp_site,
            "liver_mobilisation": self.liver_mobilisation,
            "bypass_standby": self.bypass_standby,
            "ivc_reconstruction": self.ivc_reconstruction,
            "graft_diameter_mm": self.graft_diameter_mm,
            "graft_length_mm": self.graft_length_mm,
            "graft_sizing": None if self.graft_sizing is None else dict(self.graft_sizing),
            "renal_vein_handling": dict(self.renal_vein_handling),
            "liver_resection": self.liver_resection,
            "anhepatic_support": None if self.anhepatic_support is None else [dict(a) for a in self.anhepatic_support],
            "elra_alternatives": None if self.elra_alternatives is None else [dict(a) for a in self.elra_alternatives],
            "rules": [r.to_dict() for r in self.rules],
            "rules_not_fired": [{"id": k, "reason": v} for k, v in sorted(self.not_fired.items())],
            "flags": list(self.flags),
            "references": [dict(r) for r in self.references],
            "remnant": None if self.remnant is None else dict(self.remnant),
            "withheld": dict(self.withheld),
            "disclaimer": self.disclaimer,
            "rules_file": self.rules_file,
            "rules_sha256": self.rules_sha256,
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


#: Where the upper clamp goes (``plan.upper_clamp_site``).
CLAMP_BELOW_LIVER = "infrahepatic"
CLAMP_RETROHEPATIC = "retrohepatic_below_hepatic_veins"
CLAMP_SUPRAHEPATIC = "suprahepatic_below_diaphragm"
CLAMP_INTRAPERICARDIAL = "intrapericardial_or_suprahepatic"
CLAMP_ATRIUM = "right_atrium_on_bypass"
_LEVEL_WORDS = {"above_tumor": "the normal IVC above the tumor (upper resection margin)",
                "renal_veins": "the normal IVC at the renal veins (about the size of the IVC below the atrium: "
                               "Cureus 2022, transverse 25.8 vs 26.2 mm)",
                "below_tumor": "the normal IVC below the tumor",
                "legacy": "the IVC diameter above the tumor given in the facts"}


#: The plan's decisions (``Plan`` fields) that R9 may withhold one by one.
DECISIONS = ("approach", "vascular_control", "ivc_reconstruction", "renal_vein_handling", "liver_resection")
#: What follows from the approach: withheld with it.
_FROM_APPROACH = ("vascular_control", "ivc_reconstruction", "liver_resection")
#: The rules whose conclusion is a decision: a withheld decision's rules are reported as not fired.
_DECISION_RULES = {"vascular_control": ("R7",), "ivc_reconstruction": ("R2", "R3"), "renal_vein_handling": ("R4",),
                   "liver_resection": ("R8",)}


@dataclass
class _Planner:
    facts: Facts
    rules: RuleSet
    fired: list[FiredRule] = field(default_factory=list)
    not_fired: dict[str, str] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # Plan fields beyond the basic ones

    # -- helpers ------------------------------------------------------------------------------
    def fire(self, rule_id: str, values: Mapping[str, Any], text_key: str = "text") -> None:
        rule = self.rules.rules[rule_id]
        shown = {**values, **self.rules.thresholds_of(rule_id)}
        self.fired = [r for r in self.fired if r.id != rule_id]
        self.fired.append(FiredRule(rule_id, self.rules.text(rule_id, text_key), rule.source, shown,
                                    self.rules.references_of(rule_id)))
        self.not_fired.pop(rule_id, None)

    def skip(self, rule_id: str, reason: str) -> None:
        self.not_fired[rule_id] = reason

    def plan(self, approach: str = "none", *, vascular_control: str | None = None,
             ivc_reconstruction: str | None = None, graft_diameter_mm: float | None = None,
             renal: Mapping[str, str | None] | None = None, liver_resection: str | None = None) -> Plan:
        if approach == "none":
            self.flags.append("No suggestion: refer the case to the multidisciplinary team for review.")
        cited = dict.fromkeys(key for rule in self.fired for key in rule.references)
        refs = tuple(self.rules.references[key].to_dict() for key in cited if key in self.rules.references)
        return Plan(approach, vascular_control, ivc_reconstruction, graft_diameter_mm,
                    dict(renal or {"right": None, "left": None}), liver_resection, tuple(self.fired),
                    dict(self.not_fired), tuple(dict.fromkeys(self.flags)), self.rules.disclaimer,
                    self.rules.name or Path(self.rules.path).name, self.rules.sha256, references=refs,
                    **self.extra)

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
        doubts = self.landmark_doubts()
        withheld = self.withheld_decisions(doubts, segments)
        if "approach" in withheld:
            return self.partial(doubts, withheld, segments)
        approach, control = self.approach(segments)
        if approach == "blocked":
            return self.plan()
        self.general_flags(segments)
        if approach == "none":
            return self.plan()
        control = self.r7(approach, control)
        reconstruction, graft = self.ivc_management(approach, segments)
        renal = self.r4(segments)
        resection = self.r8(approach)
        if approach == "elra":
            self.elra_support(resection)
        if withheld:
            self.note_withheld(doubts, withheld)
            if "vascular_control" in withheld:
                control = None
                self.extra.update(upper_clamp_site=None, bypass_standby=None)
            if "ivc_reconstruction" in withheld:
                reconstruction, graft = None, None
                self.extra.update(graft_length_mm=None, graft_sizing=None)
            if "renal_vein_handling" in withheld:
                renal = {"right": None, "left": None}
            if "liver_resection" in withheld:
                resection = None
        return self.plan(approach, vascular_control=control, ivc_reconstruction=reconstruction,
                         graft_diameter_mm=graft, renal=renal, liver_resection=resection)

    # -- R9 decision by decision (issue 18 item 5) -------------------------------------------------
    def landmark_doubts(self) -> dict[str, str]:
        """Required landmark -> why it cannot be used (missing, unconfident or its distance unknown)."""
        f = self.facts
        doubts = {name: problem for name in self.required_landmarks()
                  if (problem := self.landmark_problem(name)) is not None}
        needed = self.required_landmarks()
        if "hepatic_veins" in needed and "hepatic_veins" not in doubts and f.d_upper_to_hepatic_mm is None:
            doubts["hepatic_veins"] = "distance from the upper pole to the hepatic vein ostia unknown"
        if "cavoatrial_junction" in needed and "cavoatrial_junction" not in doubts and f.d_upper_to_caj_mm is None:
            doubts["cavoatrial_junction"] = "distance from the upper pole to the cavoatrial junction unknown"
        return doubts

    def withheld_decisions(self, doubts: Mapping[str, str], segments: frozenset[str]) -> dict[str, list[str]]:
        """Decision -> the doubtful landmarks it rests on.

        - renal_veins (the I/II boundary): R4 (is the renal inflow involved?): the renal vein handling; R2 (an
          infrarenal tumor may be ligated): the IVC reconstruction, unless the IVC is known not to be
          completely occluded (R2 cannot apply whatever the segments). The approach only when the hepatic
          veins are not located either (an infrarenal tumor is then presumed below them).
        - hepatic_veins: R1 against R5/R6 (is the upper pole far enough below the ostia?): the approach and
          all that follows from it (control, reconstruction, liver resection); not the renal veins (R4).
        - cavoatrial_junction: R7 (bypass, clamp site): the vascular control; with an invaded ostium
          also R6 (ELRA) and so the approach.
        """
        f = self.facts
        out: dict[str, list[str]] = {}

        def add(name: str, decisions: tuple[str, ...]) -> None:
            for decision in decisions:
                out.setdefault(decision, []).append(name)

        if "renal_veins" in doubts:
            add("renal_veins", ("renal_vein_handling",) if self.occluded() is False
                else ("ivc_reconstruction", "renal_vein_handling"))
            if f.d_upper_to_hepatic_mm is None and segments <= {"I", "II"}:
                add("renal_veins", ("approach", *_FROM_APPROACH))
        if "hepatic_veins" in doubts:
            add("hepatic_veins", ("approach", *_FROM_APPROACH))
        if "cavoatrial_junction" in doubts:
            add("cavoatrial_junction", ("approach", *_FROM_APPROACH) if f.hepatic_invaded is None or f.hepatic_invaded
                else ("vascular_control",))
        return out

    def note_withheld(self, doubts: Mapping[str, str], withheld: Mapping[str, list[str]]) -> None:
        reasons = [doubts[name] for name in dict.fromkeys(n for names in withheld.values() for n in names)]
        self.fire("R9", {"reasons": reasons, "withheld": {k: list(v) for k, v in withheld.items()},
                         "landmark_confidence": {k: v.confidence for k, v in self.facts.landmarks.items()}})
        for decision in DECISIONS:
            if decision in withheld:
                why = "; ".join(doubts[name] for name in withheld[decision])
                self.extra.setdefault("withheld", {})[decision] = why
                for rule_id in _DECISION_RULES.get(decision, ()):
                    if any(r.id == rule_id for r in self.fired):
                        self.fired = [r for r in self.fired if r.id != rule_id]
                        self.skip(rule_id, f"withheld by R9: {field_name(decision)} rests on "
                                           f"{' and '.join(landmark_short(n) for n in withheld[decision])}")
                names = " and ".join(landmark_short(name) for name in withheld[decision])
                self.flags.append(f"R9: {field_name(decision)} not suggested: it rests on {names} ({why}); "
                                  "check on the images.")
        given = [d for d in DECISIONS if d not in withheld]
        if given:
            self.flags.append(f"R9: given despite the doubt (independent of it): "
                              f"{', '.join(field_name(d) for d in given)}.")

    def partial(self, doubts: Mapping[str, str], withheld: Mapping[str, list[str]],
                segments: frozenset[str]) -> Plan:
        """No approach (a landmark it rests on is doubtful), but the renal vein handling when it stands."""
        self.general_flags(segments)
        renal = None if "renal_vein_handling" in withheld else self.r4(segments)
        self.note_withheld(doubts, withheld)
        return self.plan(renal=renal)

    def required_landmarks(self) -> tuple[str, ...]:
        f = self.facts
        segments = f.segments or frozenset()
        # The I/II boundary matters to a tumor in segment I or II only (issue 18: a tumor wholly above
        # the hepatic veins needs no renal landmark).
        needed = ["renal_veins"] if not segments or segments & {"I", "II"} else []
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
        # A doubtful landmark withholds only the decisions that rest on it (`withheld_decisions`).
        return reasons

    def landmark_problem(self, name: str) -> str | None:
        """Why landmark ``name`` cannot be used (None when it can)."""
        mark = self.facts.landmarks[name]
        min_conf = self.rules.value("min_landmark_confidence")
        shown = landmark_short(name)
        if not mark.found:
            return f"{shown} not found (outside the field of view or not detected)"
        if mark.confidence is None:
            return f"{shown} found without a confidence"
        if mark.confidence < min_conf:
            return f"{shown} found with confidence {mark.confidence:.2f}, below {min_conf:g}"
        return None

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
        values_r1 = {"segments": _sorted(segments), "distance_upper_pole_to_hepatic_veins_mm": _r(d_hv),
                     "distance_upper_pole_to_liver_caudal_edge_mm": _r(f.d_upper_to_liver_edge_mm),
                     "retrohepatic_length_mm": _r(f.retrohepatic_length_mm)}
        only_low = segments <= {"I", "II"}
        below = d_hv >= self.margin if d_hv is not None else segments == {"I"}
        if only_low and below:
            if d_hv is None:
                self.flags.append("Hepatic vein ostia not located; the tumor is infrarenal (segment I only), "
                                  "so it lies below them and the R1 margin is taken as met.")
            self.r1_clamp_site(values_r1)
            for rid in ("R5", "R6"):
                self.skip(rid, "tumor does not reach the retrohepatic IVC near the hepatic veins (R1 applies)")
            return "conventional", "infrahepatic_clamping"
        self.skip("R1", "tumor in segment III" if not only_low else
                  f"upper pole {distance_words('distance_upper_pole_to_hepatic_veins_mm', d_hv)}: less than the "
                  f"{self.margin:g} mm clamp margin below it")

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
                             "distance_upper_pole_to_hepatic_vein_mm": {k: _r(v) for k, v in
                                                                        f.d_upper_to_hv_mm.items()},
                             "hepatic_veins_invaded": [], "min_upper_pole_margin_mm": self.margin})
            self.skip("R6", "no hepatic vein ostium invaded")
            self.extra.update(upper_clamp_site=CLAMP_SUPRAHEPATIC, liver_mobilisation=True)
            return "conventional", "total_vascular_exclusion"

        self.skip("R5", f"hepatic vein ostium invaded: {', '.join(_sorted(invaded) or [])}")
        max_caj = self.rules.value("max_upper_pole_to_cavoatrial_junction_mm")
        values_r6 = {"hepatic_veins_invaded": _sorted(invaded), "segments": _sorted(segments),
                     "distance_upper_pole_to_cavoatrial_junction_mm": _r(d_caj)}
        if "III" in segments and d_caj is not None and d_caj <= max_caj:
            self.fire("R6", values_r6)
            self.extra.update(upper_clamp_site=CLAMP_SUPRAHEPATIC, liver_mobilisation=True)
            return "elra", "total_vascular_exclusion"
        why = ("tumor not in segment III" if "III" not in segments
               else f"upper pole {d_caj:.1f} mm below the cavoatrial junction, more than {max_caj:g} mm")
        self.skip("R6", why)
        self.flags.append(f"Hepatic vein ostium invaded ({', '.join(_sorted(invaded) or [])}) but R6 does not apply "
                          f"({why}), and R5 needs free ostia: no default rule covers this case (in-situ resection "
                          "with hepatectomy or ELRA): multidisciplinary review.")
        return "none", None

    def r1_clamp_site(self, values: dict[str, Any]) -> None:
        """R1 fires; the clamp goes below the liver when there is room, else after liver mobilisation."""
        f = self.facts
        room = self.rules.value("min_clamp_room_below_liver_mm")
        d_edge = f.d_upper_to_liver_edge_mm
        edge_problem = self.landmark_problem("liver_caudal_edge")
        if d_edge is not None and edge_problem is None and d_edge < room:
            self.fire("R1", values, text_key="text_mobilisation")
            self.extra.update(upper_clamp_site=CLAMP_RETROHEPATIC, liver_mobilisation=True)
            reach = f.retrohepatic_length_mm
            reach_text = f" over {reach:.0f} mm of retrohepatic IVC" if reach is not None else ""
            side = "above" if d_edge < 0 else "below"
            self.flags.append(f"Upper pole {abs(d_edge):.1f} mm {side} the liver's caudal "
                              f"edge (less than the {room:g} mm clamp room){reach_text}: mobilise the liver and divide "
                              "the short hepatic veins before clamping the IVC above the tumor, below the hepatic "
                              "veins.")
            return
        self.fire("R1", values)
        if d_edge is not None and edge_problem is None:
            self.extra.update(upper_clamp_site=CLAMP_BELOW_LIVER, liver_mobilisation=False)
            return
        self.extra.update(upper_clamp_site=CLAMP_BELOW_LIVER, liver_mobilisation=None)
        why = edge_problem or "distance from the upper pole to the liver's caudal edge unknown"
        self.flags.append(f"Clamp room below the liver not assessed ({why}): the upper pole may reach the "
                          "retrohepatic IVC, where clamping above it needs liver mobilisation and division of the "
                          "short hepatic veins.")

    def r7(self, approach: str, control: str | None) -> str | None:
        f = self.facts
        d_caj = f.d_upper_to_caj_mm
        min_in = self.rules.value("intracardiac_min_mm")
        length = f.intracardiac_length_mm
        if length is None and d_caj is not None:
            length = max(0.0, -d_caj)
        intracardiac = f.intracardiac if f.intracardiac is not None else (
            None if length is None else length > min_in)
        if self.extra.get("upper_clamp_site") in (CLAMP_BELOW_LIVER, CLAMP_RETROHEPATIC):
            self.skip("R7", "tumor far from the diaphragm and the atrium (R1 applies)")
            return control
        if intracardiac:
            puth_b = self.rules.value("puth_b_min_intracardiac_mm")
            grade = "PUTH-B"  # a wall-based tumor entering the atrium involves the intrapericardial IVC wall
            self.fire("R7", {"intracardiac_length_mm": _r(length), "puth_grade": grade,
                             "puth_b_reason": (f"more than {puth_b:g} mm into the right atrium"
                                               if length is not None and length > puth_b else
                                               "wall of the intrapericardial IVC involved (wall-based tumor)"),
                             "distance_upper_pole_to_cavoatrial_junction_mm": _r(d_caj)})
            size = "length into the atrium unknown" if length is None else f"{length:.1f} mm into the right atrium"
            self.flags.append(f"Tumor enters the right atrium ({size}): cardiopulmonary bypass, because a wall-based "
                              "leiomyosarcoma there involves the intrapericardial IVC wall (PUTH-B"
                              + (f"; also more than {puth_b:g} mm into the atrium" if length is not None
                                 and length > puth_b else "") + ").")
            self.extra.update(upper_clamp_site=CLAMP_ATRIUM, bypass_standby=False)
            return "cardiopulmonary_bypass"
        # Not in the atrium: is there room for a suprahepatic clamp below the diaphragm?
        standby = self.rules.value("hiatus_standby_margin_mm")
        d_hiatus = f.d_upper_to_hiatus_mm
        problem = self.landmark_problem("caval_hiatus")
        if d_hiatus is None or problem is not None:
            self.skip("R7", "no intracardiac extension; caval hiatus not assessed")
            self.extra["bypass_standby"] = None
            self.flags.append(f"Caval hiatus not located ({problem or 'distance unknown'}): the room for a "
                              "suprahepatic clamp below the diaphragm is not assessed; prepare intrapericardial "
                              "control if the tumor reaches the diaphragm.")
            return control
        if d_hiatus < standby:
            self.fire("R7", {"distance_upper_pole_to_caval_hiatus_mm": _r(d_hiatus),
                             "distance_upper_pole_to_cavoatrial_junction_mm": _r(d_caj),
                             "intracardiac_length_mm": _r(length)}, text_key="text_standby")
            where = (f"{abs(d_hiatus):.1f} mm above the caval hiatus" if d_hiatus < 0
                     else f"{d_hiatus:.1f} mm below the caval hiatus (less than {standby:g} mm)")
            self.flags.append(f"Upper pole {where}, not in the atrium: intrapericardial or suprahepatic control of "
                              "the IVC; cardiopulmonary bypass on standby.")
            self.extra.update(upper_clamp_site=CLAMP_INTRAPERICARDIAL, bypass_standby=True)
            return control
        self.skip("R7", f"no intracardiac extension; upper pole {d_hiatus:.1f} mm below the caval hiatus "
                        f"(at least {standby:g} mm: room for a suprahepatic clamp)")
        self.extra["bypass_standby"] = False
        return control

    def graft_size(self) -> tuple[float | None, dict[str, Any] | None]:
        """Graft diameter from the transverse diameter of the normal IVC at the upper resection margin."""
        f = self.facts
        candidates = [(level, f.transverse_mm.get(level)) for level in DIAMETER_LEVELS]
        if f.ivc_diameter_above_mm is not None:
            candidates.append(("legacy", f.ivc_diameter_above_mm))
        level, diameter = next(((lv, d) for lv, d in candidates if d is not None), (None, None))
        if diameter is None:
            reasons = "; ".join(r for r in f.diameter_reasons.values() if r) or "no IVC diameter in the facts"
            self.flags.append(f"Transverse IVC diameter of the normal IVC unknown ({reasons}): graft diameter not "
                              "computed.")
            return None, None
        ratio, low, high = (self.rules.value(k) for k in ("graft_ratio", "graft_min_mm", "graft_max_mm"))
        raw = ratio * diameter
        graft = _r(min(max(raw, low), high))
        if level != "above_tumor":
            why = f.diameter_reasons.get("above_tumor") or "not measured"
            self.flags.append(f"Graft sized on {_LEVEL_WORDS[level]} ({diameter:.1f} mm transverse): the IVC above the "
                              f"tumor is not measurable ({why}).")
            if level == "renal_veins" and (doubt := self.landmark_problem("renal_veins")) is not None:
                self.flags.append(f"The graft's diameter was measured at a doubtful renal vein level ({doubt}): "
                                  "check the IVC's diameter on the images.")
        sizing = {"source": level, "source_text": _LEVEL_WORDS[level], "transverse_mm": _r(diameter),
                  "ratio": ratio, "raw_mm": _r(raw), "bounds_mm": [low, high], "clamped": raw < low or raw > high}
        return graft, sizing

    def graft_length(self) -> float | None:
        f = self.facts
        if f.craniocaudal_length_mm is None:
            return None
        margin = self.rules.value("graft_margin_mm")
        length = f.craniocaudal_length_mm + 2 * margin
        if f.d_upper_to_caj_mm is not None and 0 <= f.d_upper_to_caj_mm < margin:
            length -= margin - f.d_upper_to_caj_mm  # the resection stops at the cavoatrial junction
        return _r(length)

    def occluded(self) -> bool | None:
        """Whether the IVC is completely occluded at the tumor over R2's length (None: not assessed)."""
        f = self.facts
        if f.occluded_length_mm is not None:
            return f.occluded_length_mm >= self.rules.value("min_occluded_length_mm")
        return f.complete_occlusion

    def ivc_management(self, approach: str, segments: frozenset[str]) -> tuple[str, float | None]:
        f = self.facts
        infrarenal = segments == {"I"}
        occluded = self.occluded()
        if approach == "elra":
            self.skip("R2", "ELRA replaces the retrohepatic IVC: reconstruction needed")
        elif not infrarenal:
            self.skip("R2", "tumor not infrarenal")
        elif occluded is None:
            self.skip("R2", "complete occlusion not assessed")
            self.flags.append("IVC occlusion not assessed: ligation (R2) was not considered.")
        elif not occluded:
            self.skip("R2", "IVC not completely occluded")
        elif f.collateral_return is None:
            self.skip("R2", "collateral return not assessed")
            detail = f" ({f.collateral_detail})" if f.collateral_detail else ""
            self.flags.append("IVC completely occluded below the renal veins but collateral return not assessed"
                              f"{detail}: ligation (R2) may be acceptable if collaterals are confirmed.")
        elif not f.collateral_return:
            self.skip("R2", "no collateral return")
        else:
            self.fire("R2", {"complete_occlusion": True, "occluded_length_mm": _r(f.occluded_length_mm),
                             "collateral_return": True, "segments": _sorted(segments),
                             "max_stenosis_pct": _r(f.max_occlusion_pct)})
            self.skip("R3", "IVC ligation (R2) instead of reconstruction")
            return "ligation", None

        degrees = f.circumferential_deg
        patch_max = self.rules.value("patch_max_circumferential_deg")
        if approach != "elra" and degrees is not None and degrees < patch_max:
            self.fire("R3", {"max_circumferential_involvement_deg": _r(degrees)}, text_key="text_patch")
            return "patch", None
        if approach != "elra" and degrees is None:
            self.flags.append("Circumferential wall involvement unknown: a graft is assumed; a patch may suffice.")
        if occluded:
            self.flags.append("IVC completely occluded at the tumor: reconstruction keeps the venous return "
                              "(ligation criteria of R2 not met).")
        graft, sizing = self.graft_size()
        length = self.graft_length()
        self.extra.update(graft_length_mm=length, graft_sizing=sizing)
        self.fire("R3", {"transverse_diameter_mm": None if sizing is None else sizing["transverse_mm"],
                         "diameter_source": None if sizing is None else sizing["source"],
                         "max_circumferential_involvement_deg": _r(degrees), "max_stenosis_pct":
                         _r(f.max_occlusion_pct), "residual_lumen_min_area_mm2": _r(f.residual_lumen_mm2),
                         "complete_occlusion": occluded, "graft_diameter_mm": graft, "graft_length_mm": length,
                         "tumor_length_mm": _r(f.craniocaudal_length_mm)})
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
        ratio, flr_ml, total = f.flr_ratio, f.flr_ml, f.liver_volume_ml
        ratio_range = f.flr_ratio_range
        if ratio is not None and side == "left_hepatectomy":
            ratio = 1.0 - ratio
            flr_ml = None if total is None or f.flr_ml is None else total - f.flr_ml
            ratio_range = None if ratio_range is None else (1.0 - ratio_range[1], 1.0 - ratio_range[0])
        # ELRA replaces the retrohepatic IVC: the caudate lobe, drained by short veins into it, goes with it.
        caudate = f.caudate_ml if side == "right_hepatectomy" else None
        if ratio is not None and caudate is not None and total:
            flr_ml = (ratio * total if flr_ml is None else flr_ml) - caudate
            ratio = max(0.0, flr_ml / total)
            if ratio_range is not None:
                ratio_range = (max(0.0, ratio_range[0] - caudate / total), max(0.0, ratio_range[1] - caudate / total))
        elif ratio is not None:
            self.flags.append("Caudate lobe volume not estimated: it is counted in the remnant although it is lost "
                              "with the retrohepatic IVC.")
        limits = {"normal liver": self.rules.value("min_flr_ratio"),
                  "after chemotherapy": self.rules.value("min_flr_ratio_chemotherapy"),
                  "fibrosis or cirrhosis": self.rules.value("min_flr_ratio_fibrosis")}
        if f.liver_fibrosis is True:
            condition = "fibrosis or cirrhosis"
        elif f.prior_chemotherapy is True:
            condition = "after chemotherapy"
        else:
            condition = "normal liver"
        minimum = limits[condition]
        bw_pct = None if flr_ml is None or f.weight_kg is None else 100.0 * flr_ml / (f.weight_kg * 1000.0)
        bw_min = self.rules.value("min_remnant_body_weight_pct")
        values = {"liver_resection": side, "remnant_ratio": _r(ratio, RATIO_DECIMALS),
                  "remnant_ratio_range": None if ratio_range is None else [_r(v, RATIO_DECIMALS) for v in ratio_range],
                  "remnant_ml": _r(flr_ml), "caudate_excluded_ml": _r(caudate), "liver_volume_ml": _r(total),
                  "flr_method": f.flr_method, "prior_chemotherapy": f.prior_chemotherapy,
                  "liver_fibrosis": f.liver_fibrosis, "condition": condition, "applied_min_ratio": minimum,
                  "weight_kg": _r(f.weight_kg), "remnant_body_weight_pct": _r(bw_pct, RATIO_DECIMALS)}
        self.extra["remnant"] = {
            "liver_resection": side, "remnant_ml": values["remnant_ml"], "remnant_ratio": values["remnant_ratio"],
            "remnant_ratio_range": values["remnant_ratio_range"], "caudate_excluded_ml": values["caudate_excluded_ml"],
            "liver_volume_ml": values["liver_volume_ml"], "flr_method": f.flr_method, "condition": condition,
            "applied_min_ratio": minimum, "remnant_body_weight_pct": values["remnant_body_weight_pct"],
            "min_remnant_body_weight_pct": bw_min,
            "sufficient": None if ratio is None else not (ratio < minimum or (bw_pct is not None and bw_pct < bw_min))}
        if ratio is None:
            self.skip("R8", "future liver remnant not estimated")
            self.flags.append("Future liver remnant unknown (liver or hepatic veins not segmented): "
                              "R8 not assessed; volumetry needed before ELRA.")
            return side
        low_ratio = ratio < minimum
        low_weight = bw_pct is not None and bw_pct < bw_min
        if low_ratio or low_weight:
            self.fire("R8", values)
            if low_ratio:
                self.flags.append(f"Insufficient future liver remnant: {ratio:.1%} of the total liver volume, below "
                                  f"{minimum:.0%} ({condition}); consider portal vein embolisation.")
            if low_weight:
                self.flags.append(f"Insufficient future liver remnant: {bw_pct:.2f} % of body weight, below "
                                  f"{bw_min:g} %; consider portal vein embolisation.")
        else:
            why = f"remnant {ratio:.1%} of the total liver volume, at least {minimum:.0%} ({condition})"
            if bw_pct is not None:
                why += f"; {bw_pct:.2f} % of body weight, at least {bw_min:g} %"
            self.skip("R8", why)
        if ratio_range is not None and ratio_range[0] < minimum <= ratio_range[1]:
            self.flags.append(f"Future liver remnant {ratio:.1%} (range {ratio_range[0]:.1%}-{ratio_range[1]:.1%} from "
                              f"the segmentation's uncertainty) straddles the {minimum:.0%} limit: confirm by "
                              "volumetry.")
        if condition == "normal liver" and (f.prior_chemotherapy is None or f.liver_fibrosis is None):
            stricter = [(name, v) for name, v in limits.items() if v > minimum and ratio < v]
            if stricter and not low_ratio:
                names = " / ".join(f"{v:.0%} {name}" for name, v in stricter)
                self.flags.append(f"Future liver remnant {ratio:.1%} passes {minimum:.0%} but not {names}: "
                                  "history not given.")
        if f.weight_kg is None:
            self.flags.append("Body weight not given: remnant to body weight ratio (R8, 0.5 %) not assessed.")
        return side

    def elra_support(self, resection: str | None) -> None:
        """ELRA's anhepatic-phase support and the in-situ / ante-situm alternatives (options, with reasons)."""
        f = self.facts
        occluded = f.complete_occlusion is True
        collaterals = f.collateral_return is True
        standby = self.extra.get("upper_clamp_site") in (CLAMP_INTRAPERICARDIAL, CLAMP_ATRIUM)
        support = [
            {"method": "temporary_ivc_graft", "suggested": not (occluded and collaterals),
             "reason": "keeps the caval return from the lower body during the anhepatic phase without a pump "
                       "(seed case (b) was done without a pump)" +
                       ("; not needed if the established collaterals carry the lower-body return"
                        if occluded and collaterals else "")},
            {"method": "temporary_portocaval_shunt", "suggested": True,
             "reason": "decompresses the splanchnic bed while the liver is on the back table (portal vein to the "
                       "temporary graft or the infrahepatic IVC)"},
            {"method": "venovenous_bypass", "suggested": standby or not (occluded and collaterals),
             "reason": ("the tumor reaches the diaphragm or the atrium, leaving little suprahepatic cuff for a "
                        "temporary graft: pump return of caval and portal blood to the superior caval system"
                        if standby else
                        "alternative to the temporary graft and shunt when caval clamping is not tolerated: pump "
                        "return of caval and portal blood to the superior caval system")},
        ]
        self.extra["anhepatic_support"] = tuple(support)
        remnant_veins = ({"middle", "left"} if resection == "right_hepatectomy" else
                         {"right", "middle"} if resection == "left_hepatectomy" else set())
        invaded = f.hepatic_invaded or frozenset()
        abutting = f.hepatic_abutting or frozenset()
        touched = sorted((invaded | abutting) & remnant_veins)
        if remnant_veins and not touched and f.hepatic_invaded is not None and f.hepatic_abutting is not None:
            alternatives = (
                {"method": "ante_situm", "reason": "the remnant's own hepatic veins are free: the liver can be rotated "
                 "forward on its hilum, the veins divided and the IVC replaced without cutting the hepatic artery "
                 "and bile duct"},
                {"method": "in_situ_hypothermic_perfusion", "reason": "the remnant's outflow is free: resection under "
                 "total vascular exclusion with cold perfusion of the liver in place"},
            )
            self.flags.append("The remnant's own hepatic veins are free: ante-situm or in-situ (hypothermic "
                              "perfusion) resection are alternatives to full ex-vivo resection.")
        else:
            why = (f"the remnant's hepatic vein(s) {', '.join(_sorted(frozenset(touched)) or [])} "
                   "invaded or abutting: back-table reconstruction of the outflow may be needed" if touched
                   else "hepatic vein status not fully known")
            alternatives = ({"method": "none", "reason": "ante-situm / in-situ alternatives need the remnant's "
                             f"outflow free; {why}"},)
        self.extra["elra_alternatives"] = alternatives

    def general_flags(self, segments: frozenset[str]) -> None:
        f = self.facts
        if f.hepatic_abutting:
            self.flags.append(f"Hepatic vein(s) abutting the tumor ({', '.join(_sorted(f.hepatic_abutting) or [])}): "
                              "invasion cannot be excluded on CT.")
        if f.contrast_phase == "non_contrast":
            self.flags.append("Non-contrast CT: vessel invasion and occlusion are unreliable.")
        if f.organs_invaded:
            organs = ", ".join(label_name(o) for o in f.organs_invaded)
            self.flags.append(f"Adjacent organ(s) invaded ({organs}): en-bloc resection of "
                              "adjacent structures.")
        elif f.adjacent_organs:
            organs = ", ".join(label_name(o) for o in f.adjacent_organs)
            self.flags.append(f"Tumor in contact with {organs} (within a few millimetres): "
                              "contact, not invasion; invasion is not assessed from the segmentation, judge it on the "
                              "images before planning an en-bloc resection.")
        for name in LANDMARK_NAMES:
            if name in self.required_landmarks():
                continue
            mark = f.landmarks[name]
            min_conf = self.rules.value("min_landmark_confidence")
            if mark.found and mark.confidence is not None and mark.confidence < min_conf:
                self.flags.append(f"Landmark {landmark_short(name)} has low confidence ({mark.confidence:.2f}); "
                                  "not used.")
        if "I" in segments and not f.landmarks["iliac_confluence"].found:
            self.flags.append("Iliac confluence not located: the lower resection margin is unknown.")
