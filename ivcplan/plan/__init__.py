"""Decision support for IVC tumor surgery: rules R1-R9 (thresholds, sources and the references table in
plan_rules.toml, listed in docs/rules.md; clinical background in docs/clinical.md).

``suggest(facts)`` turns a report's sections into a `Plan` (approach, vascular control, IVC
management, renal veins, fired rules with the numbers they used, flags, disclaimer);
``load_rules(path)`` reads a rules file (default: ``ivcplan/plan_rules.toml``); ``explain(plan)``
is the plain-text summary. The output is decision support for a multidisciplinary team, never a
decision.
"""

from ivcplan.plan.engine import FiredRule, Plan, suggest
from ivcplan.plan.explain import explain
from ivcplan.plan.rules import DEFAULT_RULES_PATH, RuleSet, load_rules

__all__ = ["DEFAULT_RULES_PATH", "FiredRule", "Plan", "RuleSet", "explain", "load_rules", "suggest"]
