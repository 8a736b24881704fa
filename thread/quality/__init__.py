"""Statistical process control and process capability: pure statistics, no ledger.

:func:`control_chart` builds Shewhart charts (I-MR, X-bar/R, X-bar/S, p, np, c, u) and
the EWMA and CUSUM, with phase I/II limits, and checks the Western Electric or Nelson
rules (:mod:`thread.quality.rules`). :func:`capability` gives Cp, Cpk, Pp, Ppk and Cpm
with confidence intervals, a normality test and distribution-free percentile indices.
:mod:`thread.quality.constants` computes the bias-correction constants d2, d3 and c4.

Results are frozen models that serialise with ``model_dump(mode="json")``. Bad input
raises :class:`QualityInputError`, a ``ValueError`` with one line that names the field.
"""

from __future__ import annotations

from thread.quality.capability import Capability, Interval, NormalityTest, capability
from thread.quality.charts import CHARTS, ChartKind, ControlChart, DispersionChart, control_chart
from thread.quality.constants import a2, a3, b3, b4, c4, d2, d3, d3_factor, d4_factor
from thread.quality.errors import QualityInputError
from thread.quality.rules import (
    NELSON,
    RULE_IDS,
    RULE_SETS,
    WESTERN_ELECTRIC,
    Rule,
    RuleId,
    RuleSet,
    RuleSpec,
    Violation,
    evaluate_rules,
    resolve_rules,
)

__all__ = [
    "CHARTS",
    "NELSON",
    "RULE_IDS",
    "RULE_SETS",
    "WESTERN_ELECTRIC",
    "Capability",
    "ChartKind",
    "ControlChart",
    "DispersionChart",
    "Interval",
    "NormalityTest",
    "QualityInputError",
    "Rule",
    "RuleId",
    "RuleSet",
    "RuleSpec",
    "Violation",
    "a2",
    "a3",
    "b3",
    "b4",
    "c4",
    "capability",
    "control_chart",
    "d2",
    "d3",
    "d3_factor",
    "d4_factor",
    "evaluate_rules",
    "resolve_rules",
]
