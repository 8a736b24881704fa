"""``thread investigate``: from field failures to the machine and window that caused them, and,
with ``--act``, through the corrective loop step by step."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

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
)
from thread.presentation import moment, table

if TYPE_CHECKING:
    from thread.analytics.patterns import FailurePatterns, Finding, NevadaChart
    from thread.domain.signature import Signer
    from thread.ledger import Ledger


@main.command()
@click.option("--part-number", default=None, help="The part number whose field failures to "
              "examine.")
@click.option("--serial", default=None, help="Start from a claimed serial: its part number is "
              "examined, and the finding it belongs to is named.")
@click.option("--since", type=MOMENT, default=None, help="Parts made from this time on.")
@click.option("--until", type=MOMENT, default=None, help="Parts made before this time.")
@click.option("--alpha", type=click.FloatRange(min=0.0001, max=0.5), default=0.05,
              show_default=True, help="False discovery rate over every group tested.")
@click.option("--max-weeks", type=click.IntRange(min=1, max=52), default=8, show_default=True,
              help="Longest production window tried, in weeks.")
@click.option("--plots", "plots", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Write the pictures (PNG and SVG) into this folder.")
@click.option("--act", is_flag=True, help="Walk through the corrective loop for the top "
              "finding: quarantine, CAPA, recall, machine changes, effectiveness, closure; "
              "each step asks first and is signed.")
@click.option("--signer-key", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None, help="With --act: the signer's key file (thread keygen --name "
              "SIGNER-ID).")
@click.option("--printed-name", default=None, help="With --act: the signer's printed name.")
@click.option("--capa", default=None, help="With --act: the CAPA id [default: from the "
              "finding].")
@click.option("--recall-id", default=None, help="With --act: the recall id [default: from "
              "the CAPA].")
@click.option("--limit", "limit", default=None, metavar="METRIC=VALUE",
              help="With --act: a new alarm limit for a condition metric of the machine.")
@click.option("--maintenance", default=None, metavar="TEXT",
              help="With --act: maintenance to schedule on the machine.")
@click.option("--due", type=MOMENT, default=None, help="With --maintenance: when it is due.")
@click.option("--yes", is_flag=True, help="With --act: answer yes to every step.")
@as_of_option
@by_option
@json_option
@click.pass_context
def investigate(ctx: click.Context, part_number: str | None, serial: str | None,
                since: datetime | None, until: datetime | None, alpha: float, max_weeks: int,
                plots: Path | None, act: bool, signer_key: Path | None,
                printed_name: str | None, capa: str | None, recall_id: str | None,
                limit: str | None, maintenance: str | None, due: datetime | None, yes: bool,
                as_of: datetime | None, by: str, as_json: bool) -> None:
    """Find the machines, production windows and process conditions whose parts fail more in
    the field per operating hour, with the statistics and the evidence behind each finding."""
    if (part_number is None) == (serial is None):
        raise click.UsageError("give --part-number or --serial (one of them)")
    if act and as_json:
        raise click.UsageError("--act asks at each step; it does not combine with --json")
    signer = _signer(signer_key, printed_name) if act else None
    with opened(ctx) as ledger:
        if serial is not None:
            part_number = ledger.part(serial).part_number
            if part_number is None:
                raise Refused(f"serial {serial} has no part number; give --part-number")
        assert part_number is not None
        found = ledger.failure_patterns(part_number=part_number, since=since, until=until,
                                        alpha=alpha, max_weeks=max_weeks, as_of=as_of,
                                        by_clock=by)  # type: ignore[arg-type]
        if as_json:
            echo_json(found.model_dump(mode="json"))
        else:
            for line in _lines(found, serial):
                click.echo(line)
        if plots is not None:
            _draw(ledger, found, plots)
        if act:
            assert signer is not None
            if not found.findings:
                raise Refused("no finding to act on")
            _act(ledger, found, found.findings[0], signer, capa=capa, recall_id=recall_id,
                 limit=limit, maintenance=maintenance, due=due, yes=yes, plots=plots)


def _signer(path: Path | None, printed_name: str | None) -> Signer:
    from thread.domain.signature import Signer
    from thread.errors import LedgerError
    from thread.log.checkpoint import signing_key

    if path is None or printed_name is None:
        raise click.UsageError("--act signs every step: give --signer-key and --printed-name")
    try:
        name, key = signing_key(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, LedgerError) as error:
        raise Refused(f"--signer-key {path}: {error}") from None
    return Signer(name, printed_name, key)


def _lines(found: FailurePatterns, serial: str | None) -> list[str]:
    lines = [
        f"failure patterns of {found.part_number}: {plural(found.units, 'serial')} made, "
        f"{found.in_service} in service, {plural(found.failures, 'failure')} in "
        f"{found.unit_hours:,.0f} unit-hours"
        + (f" ({found.rate:.1f} {found.rate_unit})" if found.rate is not None else ""),
        f"  field data up to {moment(found.at)}; "
        f"{plural(found.estimated_hours, 'serial')} with hours carried forward from the "
        f"last report; {plural(found.groups_tested, 'group')} tested (machine windows of up "
        f"to {found.max_weeks} weeks, fifths of each recorded value), false discovery rate "
        f"{found.alpha:.0%}",
    ]
    if found.weibull is not None:
        w = found.weibull
        lines.append(f"  all serials: Weibull shape {w.shape:.2f} ({w.shape_low:.2f} to "
                     f"{w.shape_high:.2f}), scale {w.scale:,.0f} h: {w.phase}")
    if not found.findings and not found.parameter_findings:
        lines.append("no finding: no machine window or parameter range fails more than the "
                     "rest at this false discovery rate")
    for finding in found.findings:
        lines += _finding_lines(finding, found.confidence, serial)
    if found.parameter_findings:
        lines.append("parameter ranges whose parts fail more:")
        lines.append(table(
            ("RANK", "PARAMETER", "RANGE", "FAILURES", "RATE", "RATIO (CI)", "Q"),
            [(str(p.rank), p.parameter or "", f"{p.low:g} to {p.high:g}", str(p.failures),
              f"{p.rate:.1f}", _ratio(p), f"{p.q_value:.2g}") for p in found.parameter_findings]))
    lines += _nevada_lines(found.nevada)
    return lines


def _number(value: float, *, sign: bool = False) -> str:
    """Four significant digits, thousands in full (24,001 rather than 2.4e+04)."""
    text = f"{value:+,.0f}" if abs(value) >= 1000 else f"{value:+.4g}"
    return text if sign else text.removeprefix("+")


def _ratio(finding: Finding) -> str:
    if finding.rate_ratio is None:
        return "no failures in the rest"
    interval = (f" ({finding.ci_low:.1f} to {finding.ci_high:.1f})"
                if finding.ci_low is not None and finding.ci_high is not None else "")
    return f"{finding.rate_ratio:.1f}x{interval}"


def _finding_lines(finding: Finding, confidence: float, serial: str | None) -> list[str]:
    assert finding.start is not None
    assert finding.end is not None
    lines = [
        f"{finding.rank}. {finding.machine}, parts made {finding.start:%Y-%m-%d} to "
        f"{finding.end:%Y-%m-%d}: {plural(finding.failures, 'failure')} of "
        f"{plural(finding.units, 'serial')} in {finding.unit_hours:,.0f} unit-hours",
        f"   {finding.rate:.1f} against {finding.rest_rate:.1f} failures per million "
        f"unit-hours: {_ratio(finding)} at {confidence:.0%}, p = {finding.p_value:.2g}, "
        f"q = {finding.q_value:.2g}",
    ]
    if finding.weibull is not None:
        w = finding.weibull
        lines.append(f"   Weibull shape {w.shape:.2f} ({w.shape_low:.2f} to {w.shape_high:.2f}), "
                     f"scale {w.scale:,.0f} h ({w.scale_low:,.0f} to {w.scale_high:,.0f}): "
                     f"{w.phase}")
    if finding.parameters:
        lines.append("   evidence (inside the window against every other part):")
        lines.append("   " + table(
            ("PARAMETER", "INSIDE", "OUTSIDE", "DIFFERENCE", "SD", "N IN/OUT"),
            [(p.name, _number(p.inside), _number(p.outside), _number(p.difference, sign=True),
              f"{p.standardized:+.1f}" if p.standardized is not None else "",
              f"{p.n_inside}/{p.n_outside}") for p in finding.parameters[:5]],
        ).replace("\n", "\n   "))
    failed = ", ".join(finding.failed[:8]) + (" ..." if len(finding.failed) > 8 else "")
    lines.append(f"   failed: {failed}")
    if serial is not None and serial in finding.serials:
        lines.append(f"   {serial} is one of this finding's serials")
    if finding.representative is not None:
        lines.append(f"   representative: thread trace {finding.representative}")
    lines.append(f"   recall scope: thread recall --machine {finding.machine} --from "
                 f"{finding.start:%Y-%m-%dT%H:%M:%SZ} --to {finding.end:%Y-%m-%dT%H:%M:%SZ}")
    return lines


def _nevada_lines(chart: NevadaChart) -> list[str]:
    if not chart.periods:
        return []
    months = min(chart.months, 12)
    return ["warranty view: failures / serials at risk, by month made and month in service",
            table(("MADE", *(f"M{m}" for m in range(months))),
                  [(period, *(f"{chart.failures[i][m]}/{chart.at_risk[i][m]}"
                              if chart.at_risk[i][m] else "" for m in range(months)))
                   for i, period in enumerate(chart.periods)])]


def _draw(ledger: Ledger, found: FailurePatterns, folder: Path) -> None:
    from thread.analytics import require

    require("matplotlib")
    from thread.analytics import plots

    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise Refused(f"--plots {folder}: {error.strerror}") from None
    pictures = plots.investigation_pictures(ledger, found)
    for name, figure in pictures.items():
        for suffix in (".png", ".svg"):
            plots.save(figure, folder / f"{found.part_number}-{name}{suffix}")
    click.echo(f"pictures written to {folder}: {', '.join(sorted(pictures))}", err=True)


def _act(ledger: Ledger, found: FailurePatterns, finding: Finding, signer: Signer, *,
         capa: str | None, recall_id: str | None, limit: str | None,
         maintenance: str | None, due: datetime | None, yes: bool, plots: Path | None
         ) -> None:
    from thread.analytics import corrective

    assert finding.machine is not None
    assert finding.end is not None
    capa = capa or f"CAPA-{finding.machine}-{finding.start:%Y%m%d}"
    recall_id = recall_id or f"RC-{capa.removeprefix('CAPA-')}"

    def ask(question: str) -> bool:
        return yes or click.confirm(question, default=False)

    click.echo(f"acting on finding 1 ({finding.id}), signed by {signer.printed_name} "
               f"({signer.signer})")
    if ask(f"quarantine the serials of {finding.machine} in the window still in the plant?"):
        held = corrective.quarantine(ledger, finding, signer=signer, capa=capa)
        click.echo(f"  quarantined {plural(sum(not r.duplicate for r in held), 'serial')}")
    if ask(f"open {capa} on the finding's {plural(len(finding.serials), 'serial')}?"):
        opened_ = corrective.open_capa(ledger, finding, capa=capa, signer=signer)
        click.echo(f"  {capa} opened on {plural(sum(not r.duplicate for r in opened_), 'serial')}"
                   f" (evidence sha256:{finding.evidence_digest[:16]}...)")
    if ask(f"record recall {recall_id} on the shipped serials in scope and their top "
           f"assemblies?"):
        scope, recalled = corrective.recall(ledger, finding, recall_id=recall_id, signer=signer)
        click.echo(f"  {recall_id}: {plural(len(scope.affected), 'serial')} in scope, recorded "
                   f"on {plural(sum(not r.duplicate for r in recalled), 'serial')} (the shipped "
                   f"ones and their top assemblies)")
    if limit is not None:
        metric, _, value = limit.partition("=")
        try:
            threshold = float(value)
        except ValueError:
            raise Refused(f"--limit {limit!r}: expected METRIC=NUMBER") from None
        series = ledger.condition_series(machine=finding.machine, metric=metric)
        if not series.points:
            raise Refused(f"--limit: {finding.machine} records no condition metric {metric!r}")
        previous = series.points[-1].threshold
        if ask(f"change the {metric} limit of {finding.machine} from {previous} to "
               f"{threshold:g} {series.unit}?"):
            corrective.change_limit(ledger, machine=finding.machine, metric=metric,
                                    threshold=threshold, unit=series.unit, previous=previous,
                                    reason=f"finding {finding.id}", signer=signer, capa=capa)
            click.echo(f"  {metric} limit of {finding.machine} is now {threshold:g} "
                       f"{series.unit}")
    if maintenance is not None:
        when = due or found.at
        if ask(f"schedule '{maintenance}' on {finding.machine} for {when:%Y-%m-%d}?"):
            corrective.schedule_maintenance(ledger, machine=finding.machine, due=when,
                                            description=maintenance, signer=signer, capa=capa)
            click.echo(f"  maintenance scheduled on {finding.machine} for {when:%Y-%m-%d}")
    check = corrective.effectiveness(ledger, finding, part_number=found.part_number,
                                     since=finding.end)
    click.echo(f"effectiveness: parts made on {check.machine} since {check.since:%Y-%m-%d}: "
               f"{plural(check.failures, 'failure')} in {check.unit_hours:,.0f} unit-hours "
               f"against {plural(check.rest_failures, 'failure')} in "
               f"{check.rest_unit_hours:,.0f} for the rest (still higher: p = "
               f"{check.p_value:.2g}; lower than the finding's: p = {check.p_improved:.2g}): "
               f"{check.verdict}")
    if plots is not None:
        from thread.analytics.plots import RateSample, before_after, save

        picture = before_after(
            RateSample(f"{finding.machine} before ({finding.start:%m-%d} to {finding.end:%m-%d})",
                       finding.failures, finding.unit_hours),
            RateSample(f"{finding.machine} after", check.failures, check.unit_hours),
            rest=RateSample("rest of population", check.rest_failures, check.rest_unit_hours),
            title=f"{finding.machine}: failure rate before and after the corrective action")
        for suffix in (".png", ".svg"):
            save(picture, plots / f"{found.part_number}-before-after{suffix}")
        click.echo(f"  before/after picture written to {plots}")
    if check.verdict != "not yet known" and ask(f"close {capa} as {check.verdict}?"):
        corrective.close_capa(ledger, finding, capa=capa, check=check, signer=signer)
        click.echo(f"  {capa} closed: {check.verdict}")
