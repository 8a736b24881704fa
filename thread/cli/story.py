"""Commands of the read side: trace, genealogy, recall, and keeping the read models current."""

from __future__ import annotations

import json
import signal
import sys
import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from thread.cli import (
    MOMENT,
    SUMMARY_WIDTH,
    across,
    as_of_option,
    by_option,
    echo_json,
    json_option,
    ledger_name,
    main,
    opened,
    plural,
)
from thread.presentation import moment, printable, shorten, table

if TYPE_CHECKING:
    from thread.read.basis import Basis
    from thread.read.genealogy import Node
    from thread.read.models import Position
    from thread.read.recall import RecallScope
    from thread.read.story import Story


@main.command()
@click.argument("serial")
@as_of_option
@by_option
@click.option("--verified", is_flag=True,
              help="Build the story from chain-verified events, each proved at its position in "
                   "the log, and refuse it, naming the row, if a read-model row it used "
                   "disagrees: what to show an auditor.")
@click.option("--sites", "across_sites", is_flag=True,
              help="At a hub: from the site logs it mirrors, one answer per site.")
@json_option
@click.pass_context
def trace(ctx: click.Context, serial: str, as_of: datetime | None, by: str, verified: bool,
          across_sites: bool, as_json: bool) -> None:
    """Show the complete story of a serial or lot: design, making, quality, service."""
    if across_sites:
        with across(ctx) as hub:
            stories = hub.trace(serial, as_of=as_of, by=by,  # type: ignore[arg-type]
                                verified=verified)
        if as_json:
            echo_json([{"site": s.origin, **s.story.model_dump(mode="json")} for s in stories])
            return
        for site in stories:
            _echo_lines([f"== at {site.origin}", *_story_lines(site.story)])
        return
    with opened(ctx) as ledger:
        story = ledger.trace(serial, as_of=as_of, by=by,  # type: ignore[arg-type]
                             verified=verified)
    if as_json:
        echo_json(story.model_dump(mode="json"))
        return
    _echo_lines(_story_lines(story))


@main.command()
@click.argument("key", metavar="SERIAL|LOT")
@click.option("--down", "direction", flag_value="down", default=True,
              help="What went into it: components and material lots, all levels [default].")
@click.option("--up", "direction", flag_value="up",
              help="Where it went: every assembly or part that contains it, to the top.")
@click.option("--depth", type=click.IntRange(min=1), default=None, help="Levels to follow.")
@as_of_option
@by_option
@click.option("--sites", "across_sites", is_flag=True,
              help="At a hub: from the site logs it mirrors, one answer per site.")
@json_option
@click.pass_context
def genealogy(ctx: click.Context, key: str, direction: str, depth: int | None,
              as_of: datetime | None, by: str, across_sites: bool, as_json: bool) -> None:
    """Show the as-built tree below an assembly (--down) or above a part or lot (--up)."""
    if across_sites:
        with across(ctx) as hub:
            trees = hub.genealogy(key, direction=direction, depth=depth,  # type: ignore[arg-type]
                                  as_of=as_of, by=by)  # type: ignore[arg-type]
        if as_json:
            echo_json([{"site": t.origin, "direction": direction,
                        "elsewhere": {k: list(v) for k, v in t.elsewhere.items()},
                        **t.node.model_dump(mode="json")} for t in trees])
            return
        for at_site in trees:
            _echo_lines([f"== at {at_site.origin}", *_tree_lines(at_site.node, direction),
                         *(f"{key} is also at {', '.join(sites)}"
                           for key, sites in at_site.elsewhere.items())])
        return
    with opened(ctx) as ledger:
        tree = ledger.genealogy(key, direction=direction, depth=depth,  # type: ignore[arg-type]
                                as_of=as_of, by=by)  # type: ignore[arg-type]
    if as_json:
        echo_json({"direction": direction, **tree.model_dump(mode="json")})
        return
    _echo_lines(_tree_lines(tree, direction))


@main.command()
@click.option("--machine", required=True, help="The machine the suspect parts ran on.")
@click.option("--from", "start", type=MOMENT, required=True, help="Start of the window.")
@click.option("--to", "end", type=MOMENT, required=True, help="End of the window (exclusive).")
@click.option("--where", default=None, metavar="PREDICATE",
              help="Condition on process and condition values, e.g. "
                   "'vibration.max > 4.0 and coolant_temp.mean > 30'.")
@as_of_option
@by_option
@click.option("--sites", "across_sites", is_flag=True,
              help="At a hub: from the site logs it mirrors, one answer per site.")
@json_option
@click.pass_context
def recall(ctx: click.Context, machine: str, start: datetime, end: datetime, where: str | None,
           as_of: datetime | None, by: str, across_sites: bool, as_json: bool) -> None:
    """List the serials a recall must cover, with the evidence and where each one is now."""
    if across_sites:
        with across(ctx) as hub:
            scopes = hub.recall_scope(machine=machine, start=start, end=end, where=where,
                                      as_of=as_of, by=by)  # type: ignore[arg-type]
        if as_json:
            echo_json([{"site": s.origin, **s.scope.model_dump(mode="json")} for s in scopes])
            return
        for site in scopes:
            _echo_lines([f"== at {site.origin}", *_scope_lines(site.scope)])
        return
    with opened(ctx) as ledger:
        scope = ledger.recall_scope(machine=machine, start=start, end=end, where=where,
                                    as_of=as_of, by=by)  # type: ignore[arg-type]
    if as_json:
        echo_json(scope.model_dump(mode="json"))
        return
    _echo_lines(_scope_lines(scope))


@main.command()
@click.argument("names", nargs=-1, metavar="[NAME]...")
@json_option
@click.pass_context
def rebuild(ctx: click.Context, names: tuple[str, ...], as_json: bool) -> None:
    """Drop read models (all, or the NAMEs given) and rebuild them from the log."""
    with opened(ctx) as ledger:
        total = ledger.count()
        if sys.stderr.isatty() and not as_json:
            with click.progressbar(length=total, label="Rebuilding read models",
                                   file=sys.stderr) as bar:
                events = ledger.rebuild(names or None, progress=bar.update)
        else:
            events = ledger.rebuild(names or None)
        positions = ledger.read_models.positions()
    if as_json:
        echo_json({"rebuilt": list(names) or [p.projection for p in positions],
                   "events": events, "read_models": _position_records(positions)})
        return
    click.echo(printable(f"rebuilt {', '.join(names) or 'all read models'} from "
                         f"{plural(events, 'event')}"))
    click.echo(_positions_table(positions))


@main.command("read-models")
@json_option
@click.pass_context
def read_models(ctx: click.Context, as_json: bool) -> None:
    """Show how far each read model has read the log (without catching up), the log they
    were built on, and when and why they last rebuilt on their own."""
    with opened(ctx) as ledger:
        positions = ledger.read_models.positions()
        basis = ledger.read_models.basis()
    if as_json:
        echo_json({"read_models": _position_records(positions), **_basis_record(basis)})
        return
    click.echo(_positions_table(positions))
    click.echo(printable(f"built on the log's first {plural(basis.built_on.size, 'event')}, "
                         f"root {basis.built_on.root.hex()[:16]}"))
    if basis.rebuilt_at is not None:
        click.echo(printable(f"rebuilt from the log on their own at {moment(basis.rebuilt_at)}"
                             f": {basis.rebuilt_because}"))


@main.command()
@click.option("--interval", type=click.FloatRange(min=0.05), default=1.0, show_default=True,
              help="Seconds between looks at the log (PostgreSQL wakes at once on a commit).")
@json_option
@click.pass_context
def follow(ctx: click.Context, interval: float, as_json: bool) -> None:
    """Keep every read model current as events land, until stopped (Ctrl-C).

    With --json, JSON lines on stdout: one when it starts ({"following": DB}), one per
    batch projected ({"projected": N, "total": N}) and one when it stops.
    """
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    projected = [0]

    def report(moved: int) -> None:
        projected[0] += moved
        if as_json:
            click.echo(json.dumps({"projected": moved, "total": projected[0]}))
        elif sys.stderr.isatty():
            click.echo(f"\rprojected {plural(projected[0], 'event')}", nl=False, err=True)

    with opened(ctx) as ledger:
        if as_json:
            click.echo(json.dumps({"following": ledger_name(ctx.obj), "interval": interval}))
        try:
            ledger.read_models.follow(stop, interval=interval, on_progress=report)
        except KeyboardInterrupt:
            stop.set()
        positions = ledger.read_models.positions()
    if as_json:
        click.echo(json.dumps({"stopped": True, "total": projected[0],
                               "read_models": _position_records(positions)}))
        return
    click.echo(f"\nstopped; projected {plural(projected[0], 'event')}", err=True)


def _echo_lines(lines: list[str]) -> None:
    """Lines of text, each kept on its line: a control character in the data is escaped."""
    click.echo("\n".join(printable(line) for chunk in lines for line in chunk.split("\n")))


def _positions_table(positions: list[Position]) -> str:
    return table(("READ MODEL", "POSITION", "LOG HEAD", "BEHIND"),
                 [(p.projection, str(p.position), str(p.head), str(p.behind))
                  for p in positions])


def _basis_record(basis: Basis) -> dict[str, Any]:
    return {"built_on": {"size": basis.built_on.size, "root": basis.built_on.root.hex()},
            "rebuilt_at": basis.rebuilt_at.isoformat() if basis.rebuilt_at else None,
            "rebuilt_because": basis.rebuilt_because}


def _position_records(positions: list[Position]) -> list[dict[str, Any]]:
    return [{"projection": p.projection, "position": p.position, "head": p.head,
             "behind": p.behind} for p in positions]


def _story_lines(story: Story) -> list[str]:
    head = f"{story.kind} {story.key}"
    if story.part_number:
        head += f": {story.part_number} rev {story.revision}"
    lines = [head, f"  now: {story.location}" + ("  (QUARANTINED)" if story.quarantined else "")]
    if story.as_of:
        lines.append(f"  as of {moment(story.as_of.moment)} by {story.as_of.by} time")
    if story.udi:
        lines.append(f"  UDI {story.udi}")
    design = story.design
    if design is not None:
        if design.released and design.released_at is not None:
            lines.append(f"  design: {design.part_name}, drawing {design.drawing}, "
                         f"{plural(len(design.characteristics), 'characteristic')}, released "
                         f"{design.released_at:%Y-%m-%d}")
        else:
            lines.append("  design: revision not released in this ledger")
    if story.parent:
        lines.append(f"  inside: {story.parent.assembly} ({story.parent.part_number})")
    for component in story.components:
        lines.append(f"  contains: {component.serial} ({component.part_number})"
                     + (f" at {component.position}" if component.position else ""))
    for material in story.materials:
        lot = material.lot
        lines.append(f"  material: lot {material.material_lot} {lot.material if lot else ''}"
                     f" from {lot.supplier if lot else '?'}, certificate "
                     f"{(lot.certificate_number if lot else None) or 'not recorded'}")
    for operation in story.operations:
        lines.append(f"  operation {operation.operation} on {operation.machine or '?'}"
                     f" {moment(operation.started_at)} - {operation.ended_at:%H:%M:%S}"
                     + (f", program {operation.program}" if operation.program else ""))
        for p in operation.process:
            lines.append(f"      {p.name}: mean {p.mean:g} {p.unit} "
                         f"(min {p.min:g}, max {p.max:g}, sd {p.sd:g}, n {p.n})")
        condition = operation.condition
        if condition is not None:
            for m in condition.metrics:
                flag = "  EXCEEDED" if m.exceeded else ""
                limit = f" / threshold {m.threshold:g}" if m.threshold is not None else ""
                lines.append(f"      machine {m.name}: max {m.max:g} {m.unit}{limit}{flag}")
            if condition.oee_lowest:
                lines.append(f"      machine OEE {condition.oee_lowest.oee:.1%}")
            for alarm in condition.alarms:
                lines.append(f"      alarm {alarm.code}: {alarm.text}")
            for gap in condition.gaps:
                lines.append(f"      data collection gap {moment(gap.start)} - "
                             f"{gap.end:%H:%M:%S}: {gap.reason}")
            if not condition.covered:
                lines.append("      machine: no condition record covers the operation")
    lines.append("")
    lines.append(table(
        ("POS", "VER", "OCCURRED (UTC)", "RECORDED (UTC)", "TOPIC", "SUMMARY"),
        [(str(e.position), str(e.version), moment(e.occurred_at), moment(e.recorded_at),
          e.topic, (f"[corrected by v{e.corrected_by}] " if e.corrected_by else "")
          + shorten(e.summary, SUMMARY_WIDTH))
         for e in story.timeline],
    ))
    if story.verified:
        lines.append(f"{plural(len(story.timeline), 'event')}, verified: every event's chain "
                     f"checked and each proved at its position (a leaf index) in the log of "
                     f"{plural(story.log_size, 'event')}, root {(story.log_root or '')[:16]}; "
                     f"every read-model row used agrees with them")
    else:
        lines.append(f"{plural(len(story.timeline), 'event')}; positions are leaf indices of "
                     f"the log; read models at log size {story.log_size}")
    return lines


def _tree_lines(tree: Node, direction: str) -> list[str]:
    lines: list[str] = []

    def walk(node: Node, prefix: str, last: bool, root: bool) -> None:
        label = f"{node.kind} {node.key}"
        if node.part_number:
            label += f" ({node.part_number} rev {node.revision})"
        if node.slot:
            label += f" at {node.slot}"
        label += f": {node.location}"
        branch = "" if root else ("`-- " if last else "|-- ")
        lines.append(prefix + branch + label)
        child_prefix = prefix + ("" if root else ("    " if last else "|   "))
        for i, child in enumerate(node.nodes):
            walk(child, child_prefix, i == len(node.nodes) - 1, False)

    walk(tree, "", True, True)
    word = "contains" if direction == "down" else "is contained in"
    lines.append(f"{tree.key} {word} {plural(len(tree.subjects()) - 1, 'subject')} "
                 f"over {plural(tree.depth() - 1, 'level')}")
    return lines


def _scope_lines(scope: RecallScope) -> list[str]:
    lines = [f"recall scope: {scope.machine}, {moment(scope.start)} to {moment(scope.end)}"
             + (f", where {scope.where}" if scope.where else "")]
    if scope.as_of:
        lines.append(f"  as of {moment(scope.as_of.moment)} by {scope.as_of.by} time")
    lines.append(table(
        ("SERIAL", "PART NUMBER", "OPERATION", "STARTED (UTC)", "MATCHED", "NOW"),
        [(a.key, a.part_number or "", a.operation, moment(a.started_at),
          ", ".join(f"{k}={v:g}" for k, v in a.matched.items()),
          a.location + (" (quarantined)" if a.quarantined else ""))
         for a in scope.affected],
    ) if scope.affected else "  no serial matches")
    for item in scope.undetermined:
        lines.append(f"  undetermined: {item.key} ({item.operation} "
                     f"{moment(item.started_at)}): no value for {', '.join(item.missing)}")
    # An empty scope is not "100.0% smaller" than the naive one: there is nothing to compare.
    reduction = scope.reduction if scope.affected else None
    lines.append(
        f"{plural(len(scope.affected), 'serial')} in scope of {plural(scope.examined, 'run')} "
        f"on {scope.machine} in the window; naive scope (every serial of "
        f"{', '.join(scope.naive_part_numbers) or 'those part numbers'} produced in the "
        f"period): {scope.naive}"
        + (f"; {reduction:.1%} smaller" if reduction is not None else "")
    )
    return lines
