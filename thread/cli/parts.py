"""Commands that fill and list the ledger: demo, parts, history."""

from __future__ import annotations

import dataclasses
import sys
from typing import TYPE_CHECKING, Any
from uuid import UUID

import click

from thread.cli import (
    SUMMARY_WIDTH,
    Refused,
    db_option,
    echo_json,
    json_option,
    ledger_name,
    main,
    opened,
    plural,
)
from thread.errors import UnknownSubject
from thread.presentation import event_record, moment, printable, shorten, summarize, table

if TYPE_CHECKING:
    from thread.ledger import Ledger


@main.command()
@click.option("--seed", type=int, default=7, show_default=True,
              help="Seed of the simulation; the same seed always gives the same facts.")
@click.option("--bearings", type=click.IntRange(min=1), default=300, show_default=True,
              help="How many bearings the plant grinds.")
@json_option
@click.pass_context
def demo(ctx: click.Context, seed: int, bearings: int, as_json: bool) -> None:
    """Fill the ledger with a simulated bearing plant.

    The same seed always records the same facts, so running it again changes
    nothing; more --bearings extend the same story.
    """
    from thread.demo import fill, signer_keys

    with opened(ctx, create=True) as ledger:
        if sys.stderr.isatty() and not as_json:
            with click.progressbar(length=bearings, label="Simulating the plant",
                                   file=sys.stderr) as bar:
                summary = fill(ledger, seed=seed, bearings=bearings, progress=bar.update)
        else:
            summary = fill(ledger, seed=seed, bearings=bearings)
        events = ledger.count()
    where = ledger_name(ctx.obj)
    if as_json:
        echo_json({"db": where, "events": events, **dataclasses.asdict(summary),
                   "signer_keys": {signer: key.hex() for signer, key in
                                   signer_keys(seed).items()}})
        return
    rows = [
        ("designs released", summary.designs, "signed"),
        ("grinders", summary.machines, f"{plural(summary.condition_windows, 'condition window')}"
                                       f", {plural(summary.alarms, 'alarm')}"),
        ("material lots", summary.material_lots, ""),
        ("bearings", summary.bearings, f"{summary.scrapped} scrapped, "
                                       f"{summary.quarantined} quarantined"),
        ("inspections", summary.inspections, f"{summary.failed_inspections} failed"),
        ("non-conformances", summary.non_conformances, "dispositioned and signed"),
        ("wheel hubs", summary.hubs, f"{summary.shipped} shipped"),
        ("field reports", summary.field_reports, plural(summary.failures, "failure")),
    ]
    click.echo(f"Demo plant (seed {seed}) in {printable(where)}:")
    for label, count, note in rows:
        click.echo(f"  {label:<18}{count:>6}" + (f"  ({note})" if note else ""))
    if summary.written:
        click.echo(f"Recorded {plural(summary.written, 'fact')}; the ledger holds "
                   f"{plural(events, 'event')}.")
    else:
        click.echo(f"Nothing new: the ledger already held this demo ({plural(events, 'event')}).")
    prefix = "thread" + db_option(ctx)
    pins = " ".join(f"--signer-key {signer}={key.hex()}"
                    for signer, key in signer_keys(seed).items())
    click.echo(f"The demo's signers (pin their keys to see signatures verified): {pins}")
    click.echo(printable(f"try: {prefix} parts, then {prefix} history {summary.example}"))


@main.command()
@json_option
@click.pass_context
def parts(ctx: click.Context, as_json: bool) -> None:
    """List serialised parts with part number, revision and location."""
    with opened(ctx) as ledger:
        found = _listing(ledger)
    if as_json:
        echo_json({"count": len(found), "parts": found})
        return
    if not found:
        click.echo(f"No parts yet; try: thread{db_option(ctx)} demo")
        return
    click.echo(table(
        ("SERIAL", "PART NUMBER", "REV", "LOCATION"),
        [(p["serial"], p["part_number"] or "", p["revision"] or "",
          p["location"] + (" (quarantined)" if p["quarantined"] else "")) for p in found],
    ))
    click.echo(plural(len(found), "part"))


@main.command()
@click.argument("serial")
@json_option
@click.pass_context
def history(ctx: click.Context, serial: str, as_json: bool) -> None:
    """Show a part's hash-verified events, oldest first."""
    with opened(ctx) as ledger:
        try:
            events = ledger.history(serial)
        except UnknownSubject as error:
            raise Refused(
                f"{error}; list the serials with: thread{db_option(ctx)} parts"
            ) from None
    if as_json:
        echo_json({"serial": serial, "verified": True,
                    "events": [event_record(event) for event in events]})
        return
    click.echo(table(
        ("VER", "OCCURRED (UTC)", "RECORDED (UTC)", "TOPIC", "ACTOR", "HASH", "SUMMARY"),
        [(str(event.originator_version), moment(event.occurred_at), moment(event.recorded_at),
          event.topic, event.actor, event.hash.hex()[:12],
          shorten(summarize(event.fact), SUMMARY_WIDTH)) for event in events],
    ))
    click.echo(f"chain of {plural(len(events), 'event')} verified; head "
               f"{events[-1].hash.hex()[:16]}")


def _listing(ledger: Ledger) -> list[dict[str, Any]]:
    """Every part with its part number, revision and whereabouts, in registration order.

    ``ledger.part`` would replay each part's whole history (process records,
    inspections: nine events in ten); a part's number and revision come from its
    registration and its whereabouts from the facts that move it, so one pass over
    those topics, folded by the domain's one whereabouts fold in log order as the
    aggregate folds them, gives the same answer at a fraction of the cost.
    """
    from thread.domain import facts as f
    from thread.domain.topics import fold, moves

    registered = f.PartRegistered.topic
    designs: dict[UUID, tuple[str, str | None, str | None]] = {}
    moved: dict[UUID, list[tuple[str, dict[str, Any]]]] = {}
    withheld: dict[UUID, str] = {}
    for _, event in ledger.scan(topics=[registered, *moves()]):
        fact = event.fact
        if isinstance(fact, f.Withheld):  # a controlled part: its serial, not its content
            if fact.withheld_topic == registered and fact.kind == "part":
                designs[event.originator_id] = (fact.key, None, None)
                withheld[event.originator_id] = f"withheld ({', '.join(fact.labels)})"
            continue
        if isinstance(fact, f.PartRegistered) and fact.serial is not None:
            designs[event.originator_id] = (fact.serial, fact.part_number, fact.revision)
        moved.setdefault(event.originator_id, []).append((event.topic, fact.__dict__))
    listing = []
    for part, (serial, part_number, revision) in designs.items():
        if part in withheld:
            listing.append({"serial": serial, "part_number": None, "revision": None,
                            "location": withheld[part], "quarantined": False})
            continue
        here = fold(moved[part])
        listing.append({"serial": serial, "part_number": part_number, "revision": revision,
                        "location": here.location, "quarantined": here.quarantined})
    return listing
