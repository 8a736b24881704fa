"""``thread spc``, ``thread capability`` and ``thread alerts``: control charts, capability and
design feedback, and drift alerts on watched charts."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from thread.cli import (
    MOMENT,
    Refused,
    as_of_option,
    by_option,
    echo_json,
    json_option,
    main,
    opened,
    plural,
    write_file,
)
from thread.errors import LedgerError
from thread.presentation import moment, shorten, table

if TYPE_CHECKING:
    from thread.analytics.spc import SpcChart
    from thread.domain.signature import Signer
    from thread.read.drift import DriftAlert, DriftState

#: Violations listed in text; --json gives every one.
SHOWN = 25
CHARTS = ("i-mr", "xbar-r", "xbar-s", "ewma", "cusum", "p", "np", "c", "u")


def _scope(function: Any) -> Any:
    for option in reversed((
            click.option("--part-number", default=None, help="Parts of this part number."),
            click.option("--revision", default=None, help="With --part-number: this revision."),
            click.option("--machine", default=None, help="Made on (or, for a condition "
                         "metric, recorded by) this machine."),
            click.option("--operation", default=None, help="Made by this operation."),
            click.option("--since", type=MOMENT, default=None, help="From this time on."),
            click.option("--until", type=MOMENT, default=None, help="Before this time."))):
        function = option(function)
    return function


@main.command()
@click.argument("metric")
@_scope
@click.option("--chart", "chart_kind", type=click.Choice(CHARTS), default="i-mr",
              show_default=True, help="Which control chart.")
@click.option("--subgroup-size", type=click.IntRange(min=1), default=1, show_default=True,
              help="X-bar charts: values per subgroup; attribute charts: parts per sample.")
@click.option("--phase1", type=click.IntRange(min=2), default=None,
              help="Estimate the limits from the first N points (phase I); judge the rest "
                   "(phase II) [default: all points are the baseline].")
@click.option("--center", type=float, default=None, help="A known centre line.")
@click.option("--sigma", type=click.FloatRange(min=0, min_open=True), default=None,
              help="A known process sigma.")
@click.option("--rules", default="western-electric", show_default=True,
              help="western-electric, nelson, none, or rule ids such as WE1,N2,N3.")
@click.option("--plot", "plot", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Draw the chart to this PNG file.")
@as_of_option
@by_option
@json_option
@click.pass_context
def spc(ctx: click.Context, metric: str, part_number: str | None, revision: str | None,
        machine: str | None, operation: str | None, since: datetime | None,
        until: datetime | None, chart_kind: str, subgroup_size: int, phase1: int | None,
        center: float | None, sigma: float | None, rules: str, plot: Path | None,
        as_of: datetime | None, by: str, as_json: bool) -> None:
    """Draw a control chart of METRIC and list the rules its points break, with the parts.

    METRIC is process.NAME.STAT (mean, sd, min, max, n), inspection.CHARACTERISTIC or
    condition.NAME.STAT (mean, min, max; with --machine).
    """
    from thread.analytics import require
    from thread.analytics.spc import chart_series

    require("numpy", "scipy")
    with opened(ctx) as ledger:
        found = ledger.series(metric, part_number=part_number, revision=revision,
                              machine=machine, operation=operation, since=since, until=until,
                              as_of=as_of, by=by)  # type: ignore[arg-type]
        drawn = chart_series(found, chart_kind, subgroup_size=subgroup_size, phase1=phase1,
                             center=center, sigma=sigma, rules=_rules(rules))
    if plot is not None:
        from thread.analytics.control_chart_plots import control_chart_png

        write_file(plot, control_chart_png(drawn), "the chart")
    if as_json:
        echo_json(drawn.model_dump(mode="json"))
        return
    for line in chart_lines(drawn):
        click.echo(line)
    if plot is not None:
        click.echo(f"chart drawn to {plot}", err=True)


def _rules(text: str) -> str | list[str]:
    parts = [part.strip() for part in text.split(",") if part.strip()]
    return parts[0] if len(parts) == 1 and not parts[0][-1].isdigit() else parts


def chart_lines(drawn: SpcChart) -> list[str]:
    """A chart as a quality engineer reads it: scope, limits, sigma and each violation."""
    chart, found = drawn.chart, drawn.series
    scope = ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in (
        ("part_number", found.part_number), ("revision", found.revision),
        ("machine", found.machine), ("operation", found.operation)) if value)
    unit = f" {found.unit}" if found.unit and chart.chart not in ("p", "np", "c", "u") else ""
    lines = [f"{chart.chart} chart of {found.metric}" + (f" ({scope})" if scope else ""),
             f"{plural(len(chart.points), 'point')} from {plural(len(found.points), 'value')}"
             + (f", {drawn.left_out} left out" if drawn.left_out else "")
             + f"; phase I: {chart.phase1} points",
             f"center {_g(chart.center)}{unit}, limits {_g(chart.lcl)} .. {_g(chart.ucl)}, "
             f"sigma {_g(chart.sigma)} ({chart.sigma_method})"]
    lines.extend(f"note: {note}" for note in chart.notes)
    if not drawn.violations:
        return [*lines, "no rule broken"]
    shown = drawn.violations[:SHOWN]
    lines.append(f"{plural(len(drawn.violations), 'violation')}"
                 + (f" (the first {SHOWN}; --json lists all)" if len(shown) < len(
                     drawn.violations) else "") + ":")
    rows = []
    for v in shown:
        last = v.behind[-1]
        rows.append((str(v.index), v.rule, shorten(v.description, 40),
                     _g(chart.points[v.index]), last.serial or "-", moment(last.at),
                     str(last.position)))
    lines.append(table(("POINT", "RULE", "PATTERN", "VALUE", "PART", "AT", "LOG"), rows))
    return lines


def _g(value: object) -> str:
    if isinstance(value, float | int):
        return f"{value:.6g}"
    if isinstance(value, list | tuple):
        return "varies" if value else "-"
    return "-" if value is None else str(value)


# -- capability and design feedback --------------------------------------------------

@main.command()
@click.argument("part_number")
@click.option("--revision", default=None, help="This revision's parts and released tolerances.")
@click.option("--characteristic", "characteristics", multiple=True,
              help="Only these characteristics (repeatable) [default: every one measured].")
@click.option("--operation", default=None, help="Group by the machine of this operation "
              "[default: the last machine each part ran on].")
@click.option("--period", type=click.Choice(("day", "week", "month")), default="week",
              show_default=True, help="Group by this period too.")
@click.option("--since", type=MOMENT, default=None, help="Parts measured from this time on.")
@click.option("--until", type=MOMENT, default=None, help="Parts measured before this time.")
@click.option("-o", "--output", "path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write the report: .pdf, .html or .json by its suffix.")
@as_of_option
@by_option
@json_option
@click.pass_context
def capability(ctx: click.Context, part_number: str, revision: str | None,
               characteristics: tuple[str, ...], operation: str | None, period: str,
               since: datetime | None, until: datetime | None, path: Path | None,
               as_of: datetime | None, by: str, as_json: bool) -> None:
    """Capability of each characteristic of PART_NUMBER against its tolerance, per machine and
    per period, and the tightest tolerance each machine holds at Cpk 1.33."""
    from thread.analytics import require
    from thread.analytics.feedback import design_feedback

    require("numpy", "scipy", "statsmodels")
    with opened(ctx) as ledger:
        report = design_feedback(ledger, part_number, revision=revision,
                                 characteristics=characteristics, operation=operation,
                                 period=period,  # type: ignore[arg-type]
                                 since=since, until=until, as_of=as_of,
                                 by=by)  # type: ignore[arg-type]
    if path is not None:
        from thread.analytics.feedback_report import render

        write_file(path, render(report, path.suffix.lower()), "the capability report")
    if as_json:
        echo_json(report.model_dump(mode="json"))
        return
    from thread.analytics.feedback import report_lines

    for line in report_lines(report):
        click.echo(line)
    if path is not None:
        click.echo(f"report written to {path}", err=True)


# -- drift alerts ----------------------------------------------------------------------

@main.group(invoke_without_command=True)
@click.option("--status", type=click.Choice(("open", "acknowledged", "closed", "all")),
              default="all", show_default=True, help="Only alerts in this state.")
@click.option("--chart", default=None, help="Only this chart's alerts.")
@as_of_option
@by_option
@json_option
@click.pass_context
def alerts(ctx: click.Context, status: str, chart: str | None, as_of: datetime | None, by: str,
           as_json: bool) -> None:
    """List drift alerts (and the watched charts); subcommands watch, check and handle them."""
    if ctx.invoked_subcommand is not None:
        return
    with opened(ctx) as ledger:
        state = ledger.drift(as_of=as_of, by=by)  # type: ignore[arg-type]
    shown = [a for a in state.alerts if (status == "all" or a.status == status)
             and (chart is None or a.chart == chart)]
    if as_json:
        echo_json({"charts": [c.model_dump(mode="json") for c in state.charts],
                   "alerts": [a.model_dump(mode="json") for a in shown]})
        return
    for line in alert_lines(state, shown):
        click.echo(line)


def alert_lines(state: DriftState, shown: list[DriftAlert]) -> list[str]:
    """The watched charts, then the alerts with their state and who handled them."""
    lines = [f"{plural(sum(c.active for c in state.charts), 'chart')} watched"]
    if state.charts:
        lines.append(table(("CHART", "METRIC", "CHART TYPE", "ON", "RULES", "STATE"), [
            (c.chart, c.metric, c.chart_kind, f"{c.kind} {c.key}", ",".join(c.rules),
             "watched" if c.active else "stopped") for c in state.charts]))
    lines.append(f"{plural(len(shown), 'alert')}")
    if shown:
        lines.append(table(("ALERT", "RULE", "ON", "VALUE", "PART", "AT", "STATE", "BY"), [
            (a.alert, a.rule, f"{a.kind} {a.key}", _g(a.points[-1].value),
             a.points[-1].serial or "-", moment(a.raised_at), a.status,
             _handler(a)) for a in shown]))
    return lines


def _handler(alert: DriftAlert) -> str:
    handling = alert.closed or alert.acknowledged
    return "-" if handling is None else (handling.signed_by or "unsigned")


@alerts.command("watch")
@click.option("--chart", required=True, help="An id for the chart.")
@click.argument("metric")
@_scope
@click.option("--chart-type", "chart_kind", type=click.Choice(CHARTS), default="i-mr",
              show_default=True)
@click.option("--subgroup-size", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--phase1", type=click.IntRange(min=2), default=None,
              help="Limits from the first N points from --since on.")
@click.option("--center", type=float, default=None, help="A known centre line.")
@click.option("--sigma", type=click.FloatRange(min=0, min_open=True), default=None,
              help="A known process sigma.")
@click.option("--rules", default="western-electric", show_default=True,
              help="western-electric, nelson, or rule ids such as WE1,N2.")
@click.option("--notify", multiple=True, help="Who is told (repeatable): a name, a role.")
@json_option
@click.pass_context
def watch_chart(ctx: click.Context, chart: str, metric: str, part_number: str | None,
                revision: str | None, machine: str | None, operation: str | None,
                since: datetime | None, until: datetime | None, chart_kind: str,
                subgroup_size: int, phase1: int | None, center: float | None,
                sigma: float | None, rules: str, notify: tuple[str, ...],
                as_json: bool) -> None:
    """Watch a chart of METRIC from now on: new points that break a rule raise an alert."""
    from thread.analytics.drift import subscribe

    if revision is not None or until is not None:
        raise click.UsageError("a watched chart takes no --revision or --until")
    ids = _rules(rules)
    with opened(ctx) as ledger:
        receipt = subscribe(ledger, chart=chart, metric=metric,
                            chart_kind=chart_kind,  # type: ignore[arg-type]
                            part_number=part_number, machine=machine, operation=operation,
                            subgroup_size=subgroup_size, phase1=phase1, center=center,
                            sigma=sigma, rules=[ids] if isinstance(ids, str) else ids,
                            since=since, notify=notify)
    _done(as_json, {"chart": chart, "watched_on": f"{receipt.kind} {receipt.key}",
                     "version": receipt.version, "duplicate": receipt.duplicate},
          f"chart {chart} watched on {receipt.kind} {receipt.key}")


def _done(as_json: bool, record: dict[str, Any], text: str) -> None:
    """What a handling command did: one JSON object, or one line."""
    if as_json:
        echo_json(record)
    else:
        click.echo(text)


@alerts.command("stop")
@click.argument("chart")
@click.option("--reason", required=True, help="Why the chart is no longer watched.")
@json_option
@click.pass_context
def stop_chart(ctx: click.Context, chart: str, reason: str, as_json: bool) -> None:
    """Stop watching CHART (its alerts stay as they are)."""
    from thread.analytics.drift import unsubscribe

    with opened(ctx) as ledger:
        unsubscribe(ledger, chart, reason=reason)
    _done(as_json, {"chart": chart, "watched": False}, f"chart {chart} no longer watched")


@alerts.command("check")
@json_option
@click.pass_context
def check(ctx: click.Context, as_json: bool) -> None:
    """Judge every watched chart's new points once and record the alerts they raise."""
    from thread.analytics import require
    from thread.analytics.drift import check_drift

    require("numpy", "scipy")
    with opened(ctx) as ledger:
        raised = check_drift(ledger)
    if as_json:
        echo_json([a.model_dump(mode="json") for a in raised])
        return
    click.echo(f"{plural(len(raised), 'alert')} raised")
    for alert in raised:
        click.echo(f"  {alert.alert}: {alert.rule} ({alert.description}) on {alert.kind} "
                   f"{alert.key}")


@alerts.command("follow")
@click.option("--interval", type=click.FloatRange(min=0.05), default=1.0, show_default=True,
              help="Seconds between looks at the log (PostgreSQL wakes at once on a commit).")
@json_option
@click.pass_context
def follow(ctx: click.Context, interval: float, as_json: bool) -> None:
    """Keep the read models current and raise drift alerts as data lands, until stopped.

    With --json, JSON lines: one when it starts and one when it stops.
    """
    import signal

    from thread.analytics import require
    from thread.analytics.drift import watch

    require("numpy", "scipy")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with opened(ctx) as ledger:
        if as_json:
            echo_json({"watching": len([c for c in ledger.drift().charts if c.active]),
                       "interval": interval})
        try:
            watch(ledger, stop, interval=interval)
        except KeyboardInterrupt:
            stop.set()
        alerts_now = len(ledger.drift().alerts)
    _done(as_json, {"stopped": True, "alerts": alerts_now},
          f"stopped; {plural(alerts_now, 'alert')} on record")


def _signer(path: Path | None, printed_name: str | None) -> Signer:
    from thread.domain.signature import Signer
    from thread.log.checkpoint import signing_key

    if path is None or printed_name is None:
        raise click.UsageError("a signed fact: give --signer-key and --printed-name")
    try:
        name, key = signing_key(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, LedgerError) as error:
        raise Refused(f"--signer-key {path}: {error}") from None
    return Signer(name, printed_name, key)


_SIGNED = (
    click.option("--signer-key", type=click.Path(dir_okay=False, exists=True, path_type=Path),
                 required=True, help="The signer's key file (thread keygen --name ID)."),
    click.option("--printed-name", required=True, help="The signer's printed name."),
)


@alerts.command("ack")
@click.argument("alert")
@click.option("--note", required=True, help="What is being done about it.")
@_SIGNED[0]
@_SIGNED[1]
@json_option
@click.pass_context
def ack(ctx: click.Context, alert: str, note: str, signer_key: Path, printed_name: str,
        as_json: bool) -> None:
    """Acknowledge ALERT: a fact signed by you (meaning: review)."""
    from thread.analytics.drift import acknowledge

    signer = _signer(signer_key, printed_name)
    with opened(ctx) as ledger:
        acknowledge(ledger, alert, note=note, signer=signer)
    _done(as_json, {"alert": alert, "status": "acknowledged", "signed_by": signer.signer},
          f"drift alert {alert} acknowledged, signed by {printed_name}")


@alerts.command("close")
@click.argument("alert")
@click.option("--resolution", required=True, help="What was found and done.")
@click.option("--outcome", type=click.Choice(("assignable-cause", "false-alarm",
                                              "process-changed")),
              default="assignable-cause", show_default=True)
@click.option("--reference", default=None, help="A CAPA or work order it refers to.")
@_SIGNED[0]
@_SIGNED[1]
@json_option
@click.pass_context
def close_alert(ctx: click.Context, alert: str, resolution: str, outcome: str,
                reference: str | None, signer_key: Path, printed_name: str,
                as_json: bool) -> None:
    """Close ALERT with what was found: a fact signed by you (meaning: approval)."""
    from thread.analytics.drift import close

    signer = _signer(signer_key, printed_name)
    with opened(ctx) as ledger:
        close(ledger, alert, resolution=resolution, outcome=outcome,  # type: ignore[arg-type]
              reference=reference, signer=signer)
    _done(as_json, {"alert": alert, "status": "closed", "outcome": outcome,
                     "signed_by": signer.signer},
          f"drift alert {alert} closed ({outcome}), signed by {printed_name}")
