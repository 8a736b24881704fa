"""The Western Electric and Nelson rules: hand-made patterns, conventions and a reference.

Sequences are plotted on an individuals chart with centre 0 and sigma 1 given, so each
value is its own z-score and the zone each point is in can be read off the literal.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thread.quality import (
    NELSON,
    RULE_IDS,
    WESTERN_ELECTRIC,
    QualityInputError,
    Rule,
    control_chart,
    evaluate_rules,
    resolve_rules,
)

pytestmark = pytest.mark.unit


def fired(values: Sequence[float], rules: object = "nelson") -> list[tuple[int, str]]:
    """(index, rule) of every violation on a chart with centre 0 and sigma 1."""
    chart = control_chart(list(values), center=0.0, sigma=1.0, rules=rules)  # type: ignore[arg-type]
    return [(v.index, v.rule) for v in chart.violations]


BOTH = [*RULE_IDS]


@pytest.mark.parametrize(("values", "expected"), [
    ([0.5, -0.5, 3.5, 0.2], [(2, "WE1"), (2, "N1")]),
    ([0.5, -0.5, 2.5, 0.3, 2.2, 0.1], [(4, "WE2"), (4, "N5")]),
    ([0.2, 1.5, 1.2, -0.3, 1.1, 1.4, 0.1], [(5, "WE3"), (5, "N6")]),
    ([-0.5, *[0.5] * 8, -0.2], [(8, "WE4")]),
    ([-0.5, *[0.3] * 9, -0.2], [(8, "WE4"), (9, "WE4"), (9, "N2")]),
    ([0.5, -0.5, -0.4, -0.2, 0.0, 0.2, 0.4, 0.1], [(6, "N3")]),
    ([0.3, -0.3] * 7, [(13, "N4")]),
    ([1.5, *[0.2, 0.4, -0.2, -0.4] * 3, 0.2, 0.4, -0.2], [(15, "N7")]),
    ([0.0, *[1.5, -1.5] * 4], [(8, "N8")]),
])
def test_each_rule_fires_at_the_point_that_completes_its_pattern(
        values: list[float], expected: list[tuple[int, str]]) -> None:
    """Each hand-made pattern fires exactly its rule(s), at the completing point."""
    assert fired(values, BOTH) == expected


def test_a_quiet_sequence_breaks_no_rule() -> None:
    """A sequence with no pattern triggers none of the twelve rules."""
    values = [0.5, -0.3, 0.8, -0.9, 0.1, 1.2, -0.4, 0.6, -1.1, 0.2, 0.3, -0.7, 1.4, 0.4,
              -0.2, -0.6, 0.9, -1.3, 0.0, 0.7]
    assert fired(values, BOTH) == []


def test_every_point_that_completes_a_run_is_flagged_as_minitab_does() -> None:
    """10 points on one side: N2 (run 9) flags the 9th and the 10th, with their windows."""
    chart = control_chart([-0.5, *[0.3] * 10], center=0.0, sigma=1.0, rules=["N2"])
    assert [(v.index, v.points) for v in chart.violations] == [
        (9, list(range(1, 10))), (10, list(range(2, 11)))]
    assert chart.violations[0].description == (
        "9 points in a row on the same side of the centre line (above)")


def test_a_point_breaking_several_rules_is_reported_once_per_rule_in_rule_order() -> None:
    """2.5 then 3.5: the second point breaks N1 and N5, listed in the order asked."""
    assert fired([2.5, 3.5], "nelson") == [(1, "N1"), (1, "N5")]
    assert fired([2.5, 3.5], ["N5", "N1"]) == [(1, "N5"), (1, "N1")]


def test_k_of_m_rules_need_the_completing_point_beyond_and_count_short_windows() -> None:
    """2.5, 2.5, 0.3: WE2 fires at the 2nd point (2 of the first 2), not at the 3rd."""
    assert fired([2.5, 2.5, 0.3], ["WE2"]) == [(1, "WE2")]
    assert fired([2.5, 0.3, 2.5], ["WE2"]) == [(2, "WE2")]
    assert fired([2.5, -2.5, 0.3], ["WE2"]) == []


def test_the_centre_line_and_equal_neighbours_break_runs() -> None:
    """A point on the centre line breaks a same-side run; a tie breaks a trend."""
    assert fired([0.1] * 4 + [0.0] + [0.1] * 4, ["WE4"]) == []
    assert fired([0.1, 0.2, 0.3, 0.3, 0.4, 0.5, 0.6], ["N3"]) == []
    assert fired([0.1, 0.2, 0.3, 0.35, 0.4, 0.5, 0.6], ["N3"]) == [(5, "N3"), (6, "N3")]


def test_beyond_a_zone_is_strict() -> None:
    """A point exactly on 3 sigma is not beyond it; just above is."""
    assert fired([3.0, -3.0], ["N1"]) == []
    assert fired([3.0000001], ["N1"]) == [(0, "N1")]


def test_rule_parameters_can_be_changed() -> None:
    """N2 with a 7-point run fires on 7 points; WE2 as 3 of 4 beyond 1.5 sigma."""
    assert fired([0.2] * 7, [Rule(id="N2", run=7)]) == [(6, "N2")]
    assert fired([0.2] * 7, ["N2"]) == []
    custom = Rule(id="WE2", run=4, count=3, zone=1.5)
    assert fired([1.6, 0.0, 1.7, 1.8], [custom]) == [(3, "WE2")]
    assert custom.describe("above") == "3 of 4 points beyond 1.5 sigma on the same side (above)"


def test_rule_sets_and_ids_resolve() -> None:
    """Named sets, single ids in any case, lists and 'none' resolve to rule objects."""
    assert resolve_rules("western-electric") == WESTERN_ELECTRIC
    assert resolve_rules("nelson") == NELSON
    assert resolve_rules("none") == ()
    assert [r.id for r in resolve_rules(["n1", "WE2"])] == ["N1", "WE2"]
    assert resolve_rules("N3") == (Rule(id="N3"),)
    assert Rule(id="N3").run == 6
    assert Rule(id="WE3").count == 4


def test_an_unknown_rule_id_is_named_with_the_valid_ones() -> None:
    """An unknown id raises one line naming it and listing every valid id."""
    with pytest.raises(QualityInputError) as caught:
        resolve_rules(["N1", "N9"])
    assert str(caught.value) == ("rule 'N9' is not one of: WE1, WE2, WE3, WE4, N1, N2, N3, "
                                 "N4, N5, N6, N7, N8")


def test_a_rule_listed_twice_is_refused() -> None:
    """N2 by id and N2 with parameters in one list is ambiguous."""
    with pytest.raises(QualityInputError, match="'N2' is listed twice"):
        resolve_rules(["N2", Rule(id="N2", run=7)])


@pytest.mark.parametrize("arguments", [
    {"id": "WE2", "count": 4}, {"id": "N1", "run": 2}, {"id": "N3", "run": 1},
    {"id": "N7", "zone": 0.0}, {"id": "N2", "count": 3},
])
def test_nonsense_rule_parameters_are_refused(arguments: dict[str, object]) -> None:
    """count above run, a multi-point limit rule, a 1-point trend, a zero zone: refused."""
    with pytest.raises(ValueError, match="rule"):
        Rule.model_validate(arguments)


def test_no_rules_means_no_violations() -> None:
    """rules='none' reports nothing even for a point far outside."""
    assert fired([0.0, 9.0], "none") == []


def test_the_dispersion_chart_gets_the_limit_rule_only() -> None:
    """A jump flags the MR chart under WE1; with WE2 alone the MR chart flags nothing."""
    values = [0.1, -0.1, 0.2, 0.0, 5.0, 0.1, -0.2, 0.1]
    chart = control_chart(values, center=0.0, sigma=1.0)
    assert chart.dispersion is not None
    assert [(v.index, v.rule, v.chart) for v in chart.dispersion.violations] == [
        (4, "WE1", "dispersion"), (5, "WE1", "dispersion")]
    quiet = control_chart(values, center=0.0, sigma=1.0, rules=["WE2"])
    assert quiet.dispersion is not None
    assert quiet.dispersion.violations == []


def test_p_chart_points_are_standardised_by_their_own_sigma() -> None:
    """p = 0.125 is 2.6 sigma out at n = 1000 but 0.6 sigma at n = 50: two such fire N5."""
    counts = [5, 4, 6, 125, 125, 5, 5]
    sizes = [50, 50, 50, 1000, 1000, 50, 50]
    chart = control_chart(counts, "p", sizes=sizes, center=0.1, rules="nelson")
    p = np.array(counts) / np.array(sizes)
    z = (p - 0.1) / np.sqrt(0.1 * 0.9 / np.array(sizes))
    assert chart.violations == evaluate_rules(z, p, NELSON)
    assert [(v.index, v.rule) for v in chart.violations] == [(4, "N5")]


def _reference(z: list[float], rule: Rule) -> list[tuple[int, list[int]]]:
    """A point-by-point reading of each rule, written for clarity rather than speed."""
    found = []
    for i in range(len(z)):
        window = z[max(0, i - rule.run + 1): i + 1]
        full = len(window) == rule.run
        steps = [b - a for a, b in pairwise(window)]
        if rule.kind == "beyond":
            hit = abs(z[i]) > rule.zone
        elif rule.kind == "k-of-m":
            hit = any(side * z[i] > rule.zone
                      and sum(side * w > rule.zone for w in window) >= rule.count
                      for side in (1, -1))
        elif rule.kind == "same-side":
            hit = full and (all(w > 0 for w in window) or all(w < 0 for w in window))
        elif rule.kind == "trend":
            hit = full and (all(s > 0 for s in steps) or all(s < 0 for s in steps))
        elif rule.kind == "alternating":
            hit = full and all(a * b < 0 for a, b in pairwise(steps))
        elif rule.kind == "within":
            hit = full and all(abs(w) < rule.zone for w in window)
        else:
            hit = full and all(abs(w) > rule.zone for w in window)
        if hit:
            found.append((i, list(range(max(0, i - rule.run + 1), i + 1))))
    return found


RULES = st.one_of(
    st.sampled_from(list(RULE_IDS)).map(lambda i: Rule.model_validate({"id": i})),
    st.builds(lambda i, run: Rule.model_validate({"id": i, "run": run}),
              st.sampled_from(["WE4", "N2", "N7", "N8"]), st.integers(1, 6)),
    st.builds(lambda i, run: Rule.model_validate({"id": i, "run": run}),
              st.sampled_from(["N3"]), st.integers(2, 6)),
    st.builds(lambda i, run: Rule.model_validate({"id": i, "run": run}),
              st.sampled_from(["N4"]), st.integers(3, 7)),
    st.builds(lambda run, count, zone: Rule(id="N6", run=run, count=min(count, run), zone=zone),
              st.integers(1, 6), st.integers(1, 6), st.sampled_from([0.5, 1.0, 1.5, 2.0])),
)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.integers(-7, 7).map(lambda v: v / 2), max_size=60),
       rules=st.lists(RULES, min_size=1, max_size=4, unique_by=lambda r: r.id))
def test_the_vectorised_rules_equal_a_point_by_point_reading(values: list[float],
                                                             rules: list[Rule]) -> None:
    """On half-integer data (ties and points on the zones) both readings agree exactly."""
    z = np.array(values, dtype=np.float64)
    got = evaluate_rules(z, z, rules)
    expected = sorted(((i, order, points) for order, rule in enumerate(rules)
                       for i, points in _reference(values, rule)), key=lambda t: t[:2])
    assert [(v.index, v.rule, v.points) for v in got] == [
        (i, rules[order].id, points) for i, order, points in expected]


def test_the_vectorised_rules_equal_the_reading_on_random_data() -> None:
    """On 3,000 random normal points every Nelson and WE rule agrees with the reference."""
    z = np.random.default_rng(3).standard_normal(3_000)
    for rule in (*NELSON, *WESTERN_ELECTRIC):
        got = [(v.index, v.points) for v in evaluate_rules(z, z, [rule])]
        assert got == _reference(z.tolist(), rule), rule.id
