"""Control-chart pictures and the design-feedback report, drawn from real ledgers."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pypdfium2 as pdfium
import pytest
from click.testing import CliRunner
from drift_plant import MACHINE, METRIC, made, plant
from matplotlib.figure import Figure
from matplotlib.patches import StepPatch
from matplotlib.text import Annotation
from PIL import Image

import thread
from thread.analytics.capability_plots import (
    capability_by_machine_figure,
    capability_figure,
    capability_png,
    capability_summary_figure,
)
from thread.analytics.control_chart_plots import ANNOTATED, control_chart_figure, control_chart_png
from thread.analytics.feedback import CharacteristicFeedback, DesignFeedback, design_feedback
from thread.analytics.feedback_report import render
from thread.analytics.figures import DPI
from thread.analytics.spc import LinkedViolation, SpcChart, chart_series
from thread.cli import main
from thread.demo import fill
from thread.errors import LedgerError
from thread.quality import ControlChart, control_chart
from thread.read.series import Series, SeriesPoint

pytestmark = pytest.mark.integration

PART_NUMBER = "BRG-6204"
START = datetime(2025, 6, 1, 6, 0, tzinfo=UTC)


class Ledgers(NamedTuple):
    grinder: Path
    demo: Path


@pytest.fixture(scope="module")
def ledgers(tmp_path_factory: pytest.TempPathFactory) -> Ledgers:
    """A grinder whose spindle load shifts up after 60 parts, and the demo plant's ledger."""
    folder = tmp_path_factory.mktemp("quality")
    ledger = thread.open(str(folder / "grinder.db"))
    at = plant(ledger, 60)
    for index in range(20):  # the load steps up by about four sigma
        made(ledger, f"SN-HI-{index:02d}", 54.0 + 0.3 * (index % 3), at)
        at += timedelta(minutes=10)
    ledger.close()
    demo = thread.open(str(folder / "demo.db"))
    fill(demo, bearings=30)
    demo.close()
    return Ledgers(folder / "grinder.db", folder / "demo.db")


@pytest.fixture(scope="module")
def report(ledgers: Ledgers) -> DesignFeedback:
    """The demo's design feedback on two characteristics of the bearing."""
    ledger = thread.open(str(ledgers.demo))
    try:
        return design_feedback(ledger, PART_NUMBER, characteristics=["1", "4"])
    finally:
        ledger.close()


def _grinder_chart(ledgers: Ledgers, kind: str, **options: int | str) -> SpcChart:
    ledger = thread.open(str(ledgers.grinder))
    try:
        found = ledger.series(METRIC, machine=MACHINE)
    finally:
        ledger.close()
    return chart_series(found, kind, **options)  # type: ignore[arg-type]


def _linked(chart: ControlChart, unit: str | None = "mm") -> SpcChart:
    """A chart of pure data as :func:`chart_series` returns it: one value per point."""
    points = tuple(SeriesPoint(value=value, at=START + timedelta(hours=i), position=i,
                               serial=f"SN-{i:04d}")
                   for i, value in enumerate(chart.points))
    series = Series(metric="process.diameter.mean", source="process", unit=unit,
                    part_number=PART_NUMBER, revision=None, machine="GR-01", operation=None,
                    points=points)
    broken = [(v.rule, v) for v in chart.violations]
    if chart.dispersion is not None:
        broken += [(f"{chart.dispersion.kind.upper()}:{v.rule}", v)
                   for v in chart.dispersion.violations]
    violations = tuple(LinkedViolation(rule=rule, index=v.index, value=v.value,
                                       description=v.description, points=tuple(v.points),
                                       behind=tuple(points[k] for k in v.points))
                       for rule, v in broken)
    return SpcChart(series=series, chart=chart, members=tuple((i,) for i in range(len(points))),
                    violations=violations, left_out=0)


def _unequal_p_chart() -> SpcChart:
    sizes = [40, 55, 60, 25, 80, 50, 45, 70, 30, 65, 50, 60, 35, 75, 40, 55, 90, 30, 50, 60]
    counts = [2, 3, 4, 1, 5, 2, 3, 4, 1, 3, 14, 3, 2, 4, 2, 3, 5, 1, 2, 3]
    return _linked(control_chart(counts, chart="p", sizes=sizes), unit=None)


def _decoded(data: bytes) -> tuple[int, int]:
    with Image.open(BytesIO(data)) as image:
        image.load()
        assert image.format == "PNG"
        return image.size


def _coordinates(data: object) -> list[float]:
    """A line's x or y data as floats."""
    return np.asarray(data, dtype=float).tolist()  # type: ignore[no-any-return]


def _drawn_size(figure: Figure) -> tuple[int, int]:
    width, height = figure.get_size_inches()
    return round(width * DPI), round(height * DPI)


TITLES = {"i-mr": "Individuals and moving range", "xbar-r": "X̄ and R", "p": "p (proportion",
          "ewma": "EWMA (λ = 0.2, L = 3)", "cusum": "Tabular CUSUM"}
CHARTS = {
    "i-mr with violations": lambda found: _grinder_chart(found, "i-mr", rules="nelson"),
    "xbar-r with phases": lambda found: _grinder_chart(found, "xbar-r", subgroup_size=5,
                                                       phase1=8),
    "p with unequal sizes": lambda found: _unequal_p_chart(),
    "ewma": lambda found: _grinder_chart(found, "ewma", phase1=40),
    "cusum": lambda found: _grinder_chart(found, "cusum", phase1=40),
}


@pytest.mark.parametrize("kind", list(CHARTS))
def test_each_chart_kind_draws_a_png_of_its_drawn_size(kind: str, ledgers: Ledgers) -> None:
    """Every chart kind draws to a PNG that decodes at its figure's size."""
    drawn = CHARTS[kind](ledgers)
    figure = control_chart_figure(drawn)
    assert _decoded(control_chart_png(drawn)) == _drawn_size(figure)
    title = figure.get_suptitle()
    assert title.startswith(TITLES[drawn.chart.chart])
    assert drawn.series.metric in title


def test_violations_are_red_and_the_grinder_shift_is_flagged(ledgers: Ledgers) -> None:
    """The step in spindle load breaks Nelson rules, and those points are marked in red."""
    drawn = _grinder_chart(ledgers, "i-mr", rules="nelson")
    flagged = {v.index for v in drawn.violations if ":" not in v.rule}
    assert flagged & set(range(60, 80))
    main_axes = control_chart_figure(drawn).axes[0]
    red = [line for line in main_axes.get_lines() if line.get_color() == "tab:red"]
    assert red
    assert {round(x) for x in _coordinates(red[-1].get_xdata())} == flagged


def test_hundreds_of_violations_are_marked_but_ten_at_most_annotated() -> None:
    """A chart with hundreds of violations annotates at most ten points and says how many
    more there are."""
    rng = np.random.default_rng(3)
    values = np.concatenate([rng.normal(10, 1, 150), rng.normal(16, 1, 150)])
    drawn = _linked(control_chart(values.tolist(), rules="nelson"))
    assert len(drawn.violations) > 200
    figure = control_chart_figure(drawn)
    main_axes = figure.axes[0]
    notes = [t for t in main_axes.texts if isinstance(t, Annotation)]
    assert 1 <= len(notes) <= ANNOTATED
    legend = main_axes.get_legend()
    assert legend is not None
    texts = [t.get_text() for t in legend.get_texts()]
    assert any(re.search(r"\+\d+ more", text) for text in texts)
    assert any(text.startswith("N1 ×") for text in texts)


def test_p_chart_limits_step_with_each_sample_size() -> None:
    """A p chart of unequal samples draws each point's own limits as steps."""
    drawn = _unequal_p_chart()
    assert drawn.chart.ucl_points is not None
    steps = [p for p in control_chart_figure(drawn).axes[0].patches
             if isinstance(p, StepPatch) and not p.get_fill()]
    drawn_limits = [np.asarray(p.get_data()[0], dtype=float).tolist() for p in steps]
    assert pytest.approx(drawn.chart.ucl_points) in drawn_limits


def test_phase_one_and_two_are_separated_and_named(ledgers: Ledgers) -> None:
    """With a phase I baseline a vertical line ends it, and both phases are named above."""
    drawn = _grinder_chart(ledgers, "xbar-r", subgroup_size=5, phase1=8)
    figure = control_chart_figure(drawn)
    main_axes, spread_axes = figure.axes
    texts = " ".join(t.get_text() for t in main_axes.texts)
    assert "phase I: limits from points 0–7" in texts
    assert "phase II" in texts
    for ax in (main_axes, spread_axes):
        assert any(_coordinates(line.get_xdata()) == [7.5, 7.5] for line in ax.get_lines())
    assert spread_axes.get_ylabel() == "subgroup range (%)"


def test_cusum_draws_both_sums_against_plus_and_minus_h(ledgers: Ledgers) -> None:
    """The CUSUM shows the upper sums, the lower sums below zero, and ±H."""
    drawn = _grinder_chart(ledgers, "cusum", phase1=40)
    chart = drawn.chart
    assert chart.lower_points is not None
    assert chart.ucl is not None
    ax = control_chart_figure(drawn).axes[0]
    series = [_coordinates(line.get_ydata()) for line in ax.get_lines()]
    assert chart.points in series
    assert [-value for value in chart.lower_points] in series
    levels = {ys[0] for ys in series if len(ys) == 2 and ys[0] == ys[1]}
    assert {chart.ucl, -chart.ucl} <= levels


def test_capability_pictures_draw_each_characteristic(report: DesignFeedback) -> None:
    """The histogram, the by-machine chart and the summary draw, with Cpk beside the bars."""
    for c in report.characteristics:
        figure = capability_figure(c, part_number=PART_NUMBER)
        assert _decoded(capability_png(c, part_number=PART_NUMBER)) == _drawn_size(figure)
        panel = " ".join(t.get_text() for t in figure.axes[1].texts)
        assert "Cpk" in panel
        assert "LSL" in " ".join(t.get_text() for t in figure.axes[0].texts)
        capability_by_machine_figure(c)
    assert len(capability_summary_figure(report).axes[0].get_yticks()) == 2


def test_report_pdf_has_pages_naming_each_characteristic_and_cpk(report: DesignFeedback
                                                                 ) -> None:
    """The PDF opens, and its text names each characteristic and Cpk."""
    document = pdfium.PdfDocument(render(report, ".pdf"))
    assert len(document) >= 3
    text = "\n".join(page.get_textpage().get_text_range() for page in document)
    assert "Cpk" in text
    for c in report.characteristics:
        assert f"Characteristic {c.characteristic}: {c.name}" in text
    assert f"Page 1 of {len(document)}" in text


def test_report_html_is_one_page_with_tables_and_embedded_pictures(report: DesignFeedback
                                                                   ) -> None:
    """The HTML page has the tables and its pictures inline, and nothing to fetch."""
    page = render(report, ".HTML").decode()
    assert page.startswith("<!DOCTYPE html>")
    assert "<th>Cpk (CI)</th>" in page
    assert "<td>GR-01</td>" in page
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) >= 2 * len(report.characteristics)
    assert _decoded(base64.b64decode(images[0]))[0] > 0
    assert not re.search(r'(src|href)="(https?:)?//', page)


def test_report_html_escapes_the_data(report: DesignFeedback) -> None:
    """Text from the ledger is escaped in the HTML page."""
    first = report.characteristics[0]
    hostile = first.model_copy(update={"name": '<script>alert("x")</script>'})
    page = render(report.model_copy(update={"characteristics": (hostile,)}), ".html").decode()
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page


def test_report_json_reads_back_as_the_report(report: DesignFeedback) -> None:
    """The JSON report parses back into an equal DesignFeedback."""
    data = render(report, ".json")
    assert DesignFeedback.model_validate_json(data) == report
    assert json.loads(data)["part_number"] == PART_NUMBER


def test_a_characteristic_without_values_or_tolerance_still_renders(report: DesignFeedback
                                                                     ) -> None:
    """A characteristic measured by verdict only gets its section, without indices."""
    bare: CharacteristicFeedback = report.characteristics[0].model_copy(update={
        "lsl": None, "usl": None, "nominal": None, "overall": None, "held": None,
        "values": (), "values_by_machine": {}, "by_machine": (), "by_period": (), "n": 0})
    changed = report.model_copy(update={"characteristics": (bare,)})
    assert b"No capability indices" in render(changed, ".html")
    assert len(pdfium.PdfDocument(render(changed, ".pdf"))) >= 2
    with pytest.raises(LedgerError, match="no capability to draw"):
        capability_by_machine_figure(bare)


def test_an_unknown_suffix_is_refused_naming_the_accepted_ones(report: DesignFeedback
                                                               ) -> None:
    """Asking for a .txt report fails in one line that names .pdf, .html and .json."""
    with pytest.raises(LedgerError) as refused:
        render(report, ".txt")
    message = str(refused.value)
    assert "'.txt'" in message
    assert ".pdf, .html or .json" in message
    assert "\n" not in message


def test_the_commands_draw_the_chart_and_write_the_report(ledgers: Ledgers,
                                                          tmp_path: Path) -> None:
    """thread spc --plot writes the chart PNG and thread capability -o the PDF and HTML."""
    runner = CliRunner()
    db = str(ledgers.demo)
    plot = tmp_path / "chart.png"
    result = runner.invoke(main, ["--db", db, "spc", "inspection.1", "--part-number",
                                  PART_NUMBER, "--chart", "xbar-r", "--subgroup-size", "5",
                                  "--plot", str(plot)], env={"THREAD_DB": None})
    assert result.exit_code == 0, result.output
    assert _decoded(plot.read_bytes())[0] > 0
    for suffix in (".pdf", ".html"):
        path = tmp_path / f"report{suffix}"
        result = runner.invoke(main, ["--db", db, "capability", PART_NUMBER,
                                      "--characteristic", "2", "-o", str(path)],
                               env={"THREAD_DB": None})
        assert result.exit_code == 0, result.output
        assert path.stat().st_size > 10_000
    refused = runner.invoke(main, ["--db", db, "capability", PART_NUMBER, "-o",
                                   str(tmp_path / "report.txt")], env={"THREAD_DB": None})
    assert refused.exit_code != 0
    assert ".pdf, .html or .json" in refused.output
    assert not (tmp_path / "report.txt").exists()
