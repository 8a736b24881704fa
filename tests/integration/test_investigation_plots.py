"""The investigation's pictures, drawn from a ledger of a plant with an injected cause."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

import pytest
from matplotlib.dates import date2num
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from PIL import Image

import thread
from thread import facts as f
from thread.analytics.patterns import FailurePatterns, Finding
from thread.analytics.plots import (
    DPI,
    RateSample,
    before_after,
    nevada_chart,
    rates_with_condition,
    save,
    weibull_plot,
)
from thread.demo.reliability import PART_NUMBER, Cause, Plant, plant
from thread.errors import LedgerError
from thread.read.conditions import ConditionSeries

SVG = "{http://www.w3.org/2000/svg}"


class Investigation(NamedTuple):
    plant: Plant
    patterns: FailurePatterns
    series: ConditionSeries
    finding: Finding


@pytest.fixture(scope="module")
def investigation(tmp_path_factory: pytest.TempPathFactory) -> Investigation:
    """M-02 vibrated in weeks 4 to 6, and the parts it made then fail eight times as fast."""
    made = plant(3, cause=Cause("M-02", 4, 6, "spindle_vibration"))
    path = tmp_path_factory.mktemp("plots") / "ledger.db"
    ledger = thread.open(f"sqlite:///{path}", clock=lambda: made.now)
    with ledger.batch(actor="sim", source="sim") as batch:
        for index, (fact, at) in enumerate(made.facts):
            batch.record(fact, occurred_at=at, source_record_id=str(index))
    patterns = ledger.failure_patterns(part_number=PART_NUMBER)
    series = ledger.condition_series(machine="M-02", metric="spindle_vibration")
    ledger.close()
    assert patterns.findings, "the injected cause must be found for the pictures to mark it"
    return Investigation(made, patterns, series, patterns.findings[0])


def _lives(made: Plant, finding: Finding) -> list[tuple[str, list[float], list[bool]]]:
    """The finding's parts and the rest: hours at failure, or at the last report."""
    hours: dict[str, float] = {}
    failed: dict[str, bool] = {}
    for fact, _ in made.facts:
        if isinstance(fact, f.FieldPerformanceReported | f.FailureReported) and fact.serial:
            hours[fact.serial] = fact.operating_hours or 0.0
            failed[fact.serial] = isinstance(fact, f.FailureReported)
    inside = set(finding.serials)
    return [(label, [hours[s] for s in hours if (s in inside) == keep],
             [failed[s] for s in hours if (s in inside) == keep])
            for label, keep in ((f"{finding.machine} window", True), ("rest", False))]


def _before_after(found: Investigation) -> Figure:
    finding, weekly = found.finding, found.patterns.weekly
    assert finding.end is not None
    later = [w for w in weekly if w.machine == finding.machine and w.week >= finding.end]
    return before_after(
        RateSample(f"{finding.machine} in the window", finding.failures, finding.unit_hours),
        RateSample(f"{finding.machine} after", sum(w.failures for w in later),
                   sum(w.unit_hours for w in later)),
        rest=RateSample("rest of population", finding.rest_failures, finding.rest_unit_hours),
        title=f"{finding.machine}: failure rate before and after the corrective action")


PICTURES: dict[str, Callable[[Investigation], Figure]] = {
    "rates_with_condition": lambda found: rates_with_condition(found.patterns, found.series,
                                                               found.finding),
    "nevada_chart": lambda found: nevada_chart(found.patterns),
    "weibull_plot": lambda found: weibull_plot(_lives(found.plant, found.finding),
                                               title=f"{PART_NUMBER}: field life"),
    "before_after": _before_after,
}


def _labels(figure: Figure) -> list[str]:
    """Every line of the figure's titles and axis labels."""
    texts = [figure.get_suptitle()]
    for ax in figure.axes:
        texts += [ax.get_title(loc) for loc in ("left", "center", "right")]
        texts += [ax.get_xlabel(), ax.get_ylabel()]
    return [line for text in texts for line in text.splitlines() if line]


@pytest.mark.parametrize("name", list(PICTURES))
def test_picture_saves_as_png_and_svg(name: str, investigation: Investigation,
                                      tmp_path: Path) -> None:
    """Each picture writes a PNG of its drawn size and an SVG whose text has its labels."""
    figure = PICTURES[name](investigation)
    width, height = figure.get_size_inches()
    png = save(figure, tmp_path / f"{name}.png")
    with Image.open(png) as image:
        image.load()
        assert image.format == "PNG"
        assert image.size == (round(width * DPI), round(height * DPI))
    svg = save(figure, tmp_path / f"{name}.SVG")
    root = ET.parse(svg).getroot()  # noqa: S314 - the file just written
    assert root.tag == f"{SVG}svg"
    written = {"".join(text.itertext()) for text in root.iter(f"{SVG}text")}
    labels = _labels(figure)
    assert labels
    assert not [label for label in labels if label not in written]
    assert figure.axes[0].get_title() or figure.get_suptitle()


def test_finding_window_is_shaded_on_both_panels(investigation: Investigation) -> None:
    """The finding's production window is shaded over the rates and the condition trace."""
    finding = investigation.finding
    assert finding.start is not None
    assert finding.end is not None
    figure = rates_with_condition(investigation.patterns, investigation.series, finding)
    rates, condition = figure.axes[:2]
    assert rates.get_shared_x_axes().joined(rates, condition)
    for ax in (rates, condition):
        shaded = [p for p in ax.patches
                  if isinstance(p, Rectangle) and str(p.get_label()).startswith("finding")]
        assert len(shaded) == 1
        left = shaded[0].get_x()
        assert left == pytest.approx(_day(finding.start))
        assert left + shaded[0].get_width() == pytest.approx(_day(finding.end))
    label = rates.get_legend_handles_labels()[1][-1]
    assert f"{finding.machine} made {finding.start:%Y-%m-%d} to " in label
    assert f"{finding.rate_ratio:.1f}× the rest" in label
    assert f"q = {finding.q_value:.2g}" in label


def _day(moment: datetime) -> float:
    return float(date2num(moment))  # type: ignore[no-untyped-call]


def test_unmarked_rates_have_no_window(investigation: Investigation) -> None:
    """Without a finding nothing is shaded."""
    figure = rates_with_condition(investigation.patterns, investigation.series)
    assert not [p for ax in figure.axes for p in ax.patches if isinstance(p, Rectangle)
                and str(p.get_label()).startswith("finding")]


def test_trace_of_another_machine_is_refused(investigation: Investigation) -> None:
    """A finding on M-02 is not drawn over another machine's condition."""
    other = investigation.series.model_copy(update={"machine": "M-01"})
    with pytest.raises(LedgerError, match=r"finding .* is on M-02 but the condition trace is "
                                          r"of M-01"):
        rates_with_condition(investigation.patterns, other, investigation.finding)


def test_parameter_finding_is_not_marked(investigation: Investigation) -> None:
    """A finding about a parameter range has no production window to shade."""
    by_value = investigation.finding.model_copy(update={
        "kind": "parameter", "start": None, "end": None, "parameter": "feed_rate"})
    with pytest.raises(LedgerError, match="about a feed_rate range, not a production window"):
        rates_with_condition(investigation.patterns, investigation.series, by_value)


def test_nevada_cells_without_parts_at_risk_are_blank(investigation: Investigation) -> None:
    """Every cell with parts at risk is annotated failures/at risk; the others are blank."""
    chart = investigation.patterns.nevada
    figure = nevada_chart(investigation.patterns)
    annotated = {text.get_text() for text in figure.axes[0].texts}
    risky = [(n, r) for row_f, row_r in zip(chart.failures, chart.at_risk, strict=True)
             for n, r in zip(row_f, row_r, strict=True) if r]
    assert annotated == {f"{n}/{r}" for n, r in risky}
    assert len(figure.axes[0].texts) == len(risky) < chart.months * len(chart.periods)


def test_unknown_suffix_is_refused(tmp_path: Path) -> None:
    """A picture is PNG or SVG; anything else names the suffix and writes nothing."""
    figure = Figure()
    with pytest.raises(LedgerError, match=r"'\.pdf'.*\.png or \.svg"):
        save(figure, tmp_path / "chart.pdf")
    assert not list(tmp_path.iterdir())
