"""The Western Electric and Nelson run rules, evaluated over whole arrays at once.

Rules look at the plotted statistic standardised by its own centre line and sigma,
``z_i = (x_i - centre) / sigma_i`` (for an X-bar chart sigma/sqrt(n); for a p chart with
unequal sample sizes each point's own binomial sigma), so one implementation serves every
Shewhart chart. "Beyond k sigma" is strict (``|z| > k``); a point exactly on the centre line
is on neither side and breaks a same-side run; equal neighbours break a trend and an
alternation.

=====  ===========================================================  ===================
id     pattern (default parameters)                                 parameters
=====  ===========================================================  ===================
WE1    1 point beyond 3 sigma                                       zone=3
WE2    2 of 3 points beyond 2 sigma, same side                      count=2 run=3 zone=2
WE3    4 of 5 points beyond 1 sigma, same side                      count=4 run=5 zone=1
WE4    8 points in a row on one side of the centre line             run=8
N1     1 point beyond 3 sigma                                       zone=3
N2     9 points in a row on one side of the centre line             run=9
N3     6 points in a row steadily increasing or decreasing          run=6 (5 steps)
N4     14 points in a row alternating up and down                   run=14 (13 steps)
N5     2 of 3 points beyond 2 sigma, same side                      count=2 run=3 zone=2
N6     4 of 5 points beyond 1 sigma, same side                      count=4 run=5 zone=1
N7     15 points in a row within 1 sigma, either side               run=15 zone=1
N8     8 points in a row beyond 1 sigma, either side                run=8 zone=1
=====  ===========================================================  ===================

``run`` always counts points, as Nelson (1984) words the rules: N3's six points make five
rising steps. N8 follows Minitab's test 8 (every point more than 1 sigma out, on either
side, without requiring both sides).

Convention when rules fire (Minitab's): a violation is reported at the point that
completes the pattern (its ``index`` is the pattern's last point and ``points`` lists the
pattern's points, ending there). Every point that completes a pattern is flagged, so a run
of 10 points on one side flags N2 (run 9) at the 9th and at the 10th point. For the
"k of m" rules the completing point must itself be beyond the zone, and at the start of
the data a window shorter than m counts (2 of the first 2 points beyond 2 sigma fire WE2
at the second). Each rule reports a point at most once; a point that breaks several rules
gets one violation per rule, sorted by index and then by the order of the rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import TypeAdapter, model_validator

from thread.quality.base import FloatArray
from thread.quality.errors import QualityInputError
from thread.read.result import Model

RuleId = Literal["WE1", "WE2", "WE3", "WE4", "N1", "N2", "N3", "N4", "N5", "N6", "N7", "N8"]
RuleKind = Literal["beyond", "k-of-m", "same-side", "trend", "alternating", "within",
                   "outside"]
RuleSet = Literal["western-electric", "nelson", "none"]
ChartPart = Literal["primary", "dispersion"]

#: kind, run, count, zone of each rule as published.
_DEFAULTS: dict[str, tuple[RuleKind, int, int, float]] = {
    "WE1": ("beyond", 1, 1, 3.0),
    "WE2": ("k-of-m", 3, 2, 2.0),
    "WE3": ("k-of-m", 5, 4, 1.0),
    "WE4": ("same-side", 8, 8, 0.0),
    "N1": ("beyond", 1, 1, 3.0),
    "N2": ("same-side", 9, 9, 0.0),
    "N3": ("trend", 6, 6, 0.0),
    "N4": ("alternating", 14, 14, 0.0),
    "N5": ("k-of-m", 3, 2, 2.0),
    "N6": ("k-of-m", 5, 4, 1.0),
    "N7": ("within", 15, 15, 1.0),
    "N8": ("outside", 8, 8, 1.0),
}
RULE_IDS: tuple[str, ...] = tuple(_DEFAULTS)
RULE_SETS: tuple[str, ...] = ("western-electric", "nelson", "none")
#: The fewest points each kind of pattern can have.
_SHORTEST: dict[RuleKind, int] = {"beyond": 1, "k-of-m": 1, "same-side": 1, "trend": 2,
                                  "alternating": 3, "within": 1, "outside": 1}


class Rule(Model):
    """One run rule with its parameters; those left out take the published defaults.

    ``Rule(id="N2", run=7)`` is Nelson's rule 2 with the 7-point run some companies use.
    ``run`` is the number of points in the pattern, ``count`` how many of them must lie
    beyond ``zone`` sigma (the "k of m" rules only), ``zone`` a multiple of the plotted
    statistic's sigma.
    """

    id: RuleId
    # The zeros are placeholders: the validator below fills whatever is left out.
    run: int = 0
    count: int = 0
    zone: float = 0.0

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("id") in _DEFAULTS:
            kind, run, count, zone = _DEFAULTS[data["id"]]
            filled = {"run": run, "zone": zone, **data}
            # Outside the "k of m" rules every point of the run is part of the pattern.
            filled.setdefault("count", count if kind == "k-of-m" else filled["run"])
            return filled
        return data

    @model_validator(mode="after")
    def _sensible(self) -> Rule:
        kind = self.kind
        if kind == "beyond" and self.run != 1:
            raise ValueError(f"rule {self.id}: run {self.run} is not valid: a limit rule "
                             "looks at 1 point")
        if self.run < _SHORTEST[kind]:
            raise ValueError(f"rule {self.id}: run {self.run} is not valid: expected at "
                             f"least {_SHORTEST[kind]}")
        if kind == "k-of-m" and not 1 <= self.count <= self.run:
            raise ValueError(f"rule {self.id}: count {self.count} is not valid: expected "
                             f"1 to run ({self.run})")
        if kind != "k-of-m" and self.count != self.run:
            raise ValueError(f"rule {self.id}: count {self.count} is not valid: only the "
                             "'k of m' rules take a count; leave it out")
        if kind in ("beyond", "k-of-m", "within", "outside") and not self.zone > 0:
            raise ValueError(f"rule {self.id}: zone {self.zone} is not valid: expected a "
                             "positive multiple of sigma")
        return self

    @property
    def kind(self) -> RuleKind:
        """The shape of pattern the rule looks for."""
        return _DEFAULTS[self.id][0]

    @property
    def is_limit_rule(self) -> bool:
        """Rule 1 (WE1, N1): one point beyond the limits."""
        return self.kind == "beyond"

    def describe(self, side: str = "") -> str:
        """One line saying what the pattern is (``side``: 'above', 'below' or '')."""
        where = f" ({side})" if side else ""
        zone = f"{self.zone:g} sigma"
        match self.kind:
            case "beyond":
                return f"1 point beyond {zone}{where}"
            case "k-of-m":
                return f"{self.count} of {self.run} points beyond {zone} on the same side{where}"
            case "same-side":
                return f"{self.run} points in a row on the same side of the centre line{where}"
            case "trend":
                return f"{self.run} points in a row steadily {side or 'moving one way'}"
            case "alternating":
                return f"{self.run} points in a row alternating up and down"
            case "within":
                return f"{self.run} points in a row within {zone} of the centre line"
            case _:
                return f"{self.run} points in a row beyond {zone}, either side"


class Violation(Model):
    """A point that completes a rule's pattern."""

    #: The completing point, from 0, in the chart's ``points``.
    index: int
    rule: str
    #: Every point of the pattern, ending at ``index``.
    points: list[int]
    #: The plotted value at ``index``.
    value: float
    description: str
    chart: ChartPart = "primary"


_VIOLATIONS = TypeAdapter(list[Violation])

WESTERN_ELECTRIC: tuple[Rule, ...] = tuple(Rule(id=i) for i in ("WE1", "WE2", "WE3", "WE4"))
NELSON: tuple[Rule, ...] = (Rule(id="N1"), Rule(id="N2"), Rule(id="N3"), Rule(id="N4"),
                            Rule(id="N5"), Rule(id="N6"), Rule(id="N7"), Rule(id="N8"))

RuleSpec = str | Rule | Sequence[str | Rule]


def resolve_rules(rules: RuleSpec) -> tuple[Rule, ...]:
    """The rules named by a set ('western-electric', 'nelson', 'none'), ids or Rule objects."""
    if isinstance(rules, Rule):
        return (rules,)
    if isinstance(rules, str):
        named = rules.strip().lower()
        if named == "western-electric":
            return WESTERN_ELECTRIC
        if named == "nelson":
            return NELSON
        if named == "none":
            return ()
        if rules.strip().upper() not in _DEFAULTS:
            raise QualityInputError(f"rules {rules!r} is not one of: "
                                    f"{', '.join(RULE_SETS + RULE_IDS)}")
        rules = [rules]
    if not isinstance(rules, Sequence):
        raise QualityInputError(f"rules {rules!r} is not valid: expected a set name, a rule "
                                "id or a list of rule ids and Rule objects")
    resolved: list[Rule] = []
    for item in rules:
        if isinstance(item, Rule):
            resolved.append(item)
            continue
        if not isinstance(item, str) or item.strip().upper() not in _DEFAULTS:
            raise QualityInputError(f"rule {item!r} is not one of: {', '.join(RULE_IDS)}")
        resolved.append(Rule.model_validate({"id": item.strip().upper()}))
    ids = [rule.id for rule in resolved]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise QualityInputError(f"rule {twice[0]!r} is listed twice: expected each rule once")
    return tuple(resolved)


def _run_length(flags: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Length of the run of True ending at each position (0 where False)."""
    total = np.cumsum(flags, dtype=np.int64)
    at_last_false = np.maximum.accumulate(np.where(flags, 0, total))
    return total - at_last_false


def _window_count(flags: NDArray[np.bool_], width: int) -> NDArray[np.int64]:
    """True flags among the last ``width`` positions (fewer at the start)."""
    total = np.concatenate(([0], np.cumsum(flags, dtype=np.int64)))
    ends = np.arange(1, flags.size + 1)
    return total[ends] - total[np.maximum(ends - width, 0)]


def _fire(rule: Rule, z: FloatArray) -> tuple[NDArray[np.bool_], NDArray[np.int8]]:
    """Where the rule fires and on which side (+1 above/increasing, -1 below/decreasing)."""
    n = z.size
    fired_up = np.zeros(n, dtype=bool)
    fired_down = np.zeros(n, dtype=bool)
    match rule.kind:
        case "beyond":
            fired_up, fired_down = z > rule.zone, z < -rule.zone
        case "k-of-m":
            up, down = z > rule.zone, z < -rule.zone
            fired_up = up & (_window_count(up, rule.run) >= rule.count)
            fired_down = down & (_window_count(down, rule.run) >= rule.count)
        case "same-side":
            fired_up = _run_length(z > 0) >= rule.run
            fired_down = _run_length(z < 0) >= rule.run
        case "trend":
            steps = np.diff(z)
            fired_up[1:] = _run_length(steps > 0) >= rule.run - 1
            fired_down[1:] = _run_length(steps < 0) >= rule.run - 1
        case "alternating":
            steps = np.sign(np.diff(z))
            turns = steps[1:] * steps[:-1] < 0
            fired_up[2:] = _run_length(turns) >= rule.run - 2
        case "within":
            fired_up = _run_length(np.abs(z) < rule.zone) >= rule.run
        case "outside":
            fired_up = _run_length(np.abs(z) > rule.zone) >= rule.run
    side = fired_up.astype(np.int8) - fired_down.astype(np.int8)
    return fired_up | fired_down, side


_SIDES: dict[RuleKind, tuple[str, str]] = {
    "beyond": ("above", "below"), "k-of-m": ("above", "below"),
    "same-side": ("above", "below"), "trend": ("increasing", "decreasing"),
}


def evaluate_rules(z: FloatArray, values: FloatArray, rules: Sequence[Rule],
                   chart: ChartPart = "primary") -> list[Violation]:
    """Every violation of ``rules`` by the standardised points ``z`` (values: as plotted)."""
    found_index: list[NDArray[np.intp]] = []
    found_order: list[NDArray[np.intp]] = []
    found_side: list[NDArray[np.int8]] = []
    for order, rule in enumerate(rules):
        fired, side = _fire(rule, z)
        where = np.flatnonzero(fired)
        found_index.append(where)
        found_order.append(np.full(where.size, order, dtype=np.intp))
        found_side.append(side[where])
    if not found_index:
        return []
    indices = np.concatenate(found_index)
    orders = np.concatenate(found_order)
    sides = np.concatenate(found_side)
    ranked = np.lexsort((orders, indices))
    descriptions: dict[tuple[int, int], str] = {}
    found: list[dict[str, Any]] = []
    for i, o, s in zip(indices[ranked].tolist(), orders[ranked].tolist(),
                       sides[ranked].tolist(), strict=True):
        rule = rules[o]
        text = descriptions.get((o, s))
        if text is None:
            names = _SIDES.get(rule.kind)
            word = "" if names is None or s == 0 else names[0 if s > 0 else 1]
            text = descriptions[(o, s)] = rule.describe(word)
        found.append({"index": i, "rule": rule.id,
                      "points": list(range(max(0, i - rule.run + 1), i + 1)),
                      "value": values[i], "description": text, "chart": chart})
    # One validation of the whole list runs in pydantic-core, about twice as fast as
    # building the models one by one, which dominates the time on long series.
    return _VIOLATIONS.validate_python(found)
