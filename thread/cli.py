"""The ``thread`` command: fill a demo plant, list parts, read a part's verified history."""

from __future__ import annotations

import dataclasses
import json
import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
from click.core import ParameterSource

import thread
from thread.bootstrap import DB_VARIABLE, DEFAULT_FILE
from thread.demo import fill
from thread.errors import LedgerError, UnknownSubject
from thread.ledger import Ledger
from thread.presentation import event_record, moment, shorten, summarize, table

#: Summary characters a history table shows before cutting the line.
SUMMARY_WIDTH = 100


@click.group()
@click.option("--db", "url", envvar=DB_VARIABLE, metavar="URL",
              help=f"Ledger file, sqlite:///PATH or postgresql://USER@HOST:PORT/DB "
                   f"[env {DB_VARIABLE}; default {DEFAULT_FILE} in the working directory].")
@click.version_option(package_name="digital-thread-ledger")
@click.pass_context
def main(ctx: click.Context, url: str | None) -> None:
    """The digital-thread ledger: a verifiable record of every part, from design to field."""
    ctx.obj = url


json_option = click.option("--json", "as_json", is_flag=True,
                           help="Print machine-readable JSON instead of text.")


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
    with _opened(ctx, create=True) as ledger:
        if sys.stderr.isatty() and not as_json:
            with click.progressbar(length=bearings, label="Simulating the plant",
                                   file=sys.stderr) as bar:
                summary = fill(ledger, seed=seed, bearings=bearings, progress=bar.update)
        else:
            summary = fill(ledger, seed=seed, bearings=bearings)
        events = ledger.count()
    where = _where(ctx.obj)
    if as_json:
        _echo_json({"db": where, "events": events, **dataclasses.asdict(summary)})
        return
    rows = [
        ("designs released", summary.designs, "signed"),
        ("grinders", summary.machines, f"{_count(summary.condition_windows, 'condition window')}"
                                       f", {_count(summary.alarms, 'alarm')}"),
        ("material lots", summary.material_lots, ""),
        ("bearings", summary.bearings, f"{summary.scrapped} scrapped, "
                                       f"{summary.quarantined} quarantined"),
        ("inspections", summary.inspections, f"{summary.failed_inspections} failed"),
        ("non-conformances", summary.non_conformances, "dispositioned and signed"),
        ("wheel hubs", summary.hubs, f"{summary.shipped} shipped"),
        ("field reports", summary.field_reports, _count(summary.failures, "failure")),
    ]
    click.echo(f"Demo plant (seed {seed}) in {where}:")
    for label, count, note in rows:
        click.echo(f"  {label:<18}{count:>6}" + (f"  ({note})" if note else ""))
    if summary.written:
        click.echo(f"Recorded {summary.written} facts; the ledger holds {events} events.")
    else:
        click.echo(f"Nothing new: the ledger already held this demo ({events} events).")
    prefix = "thread" + _db_option(ctx)
    click.echo(f"try: {prefix} parts, then {prefix} history {summary.example}")


@main.command()
@json_option
@click.pass_context
def parts(ctx: click.Context, as_json: bool) -> None:
    """List serialised parts with part number, revision and location."""
    with _opened(ctx) as ledger:
        found = [_part_record(ledger, serial) for serial in ledger.parts()]
    if as_json:
        _echo_json({"count": len(found), "parts": found})
        return
    if not found:
        click.echo(f"No parts yet; try: thread{_db_option(ctx)} demo")
        return
    click.echo(table(
        ("SERIAL", "PART NUMBER", "REV", "LOCATION"),
        [(p["serial"], p["part_number"] or "", p["revision"] or "",
          p["location"] + (" (quarantined)" if p["quarantined"] else "")) for p in found],
    ))
    click.echo(f"{len(found)} parts")


@main.command()
@click.argument("serial")
@json_option
@click.pass_context
def history(ctx: click.Context, serial: str, as_json: bool) -> None:
    """Show a part's hash-verified events, oldest first."""
    with _opened(ctx) as ledger:
        try:
            events = ledger.history(serial)
        except UnknownSubject as error:
            raise click.ClickException(
                f"{error}; list the serials with: thread{_db_option(ctx)} parts"
            ) from None
    if as_json:
        _echo_json({"serial": serial, "verified": True,
                    "events": [event_record(event) for event in events]})
        return
    click.echo(table(
        ("VER", "OCCURRED (UTC)", "RECORDED (UTC)", "TOPIC", "ACTOR", "HASH", "SUMMARY"),
        [(str(event.originator_version), moment(event.occurred_at), moment(event.recorded_at),
          event.topic, event.actor, event.hash.hex()[:12],
          shorten(summarize(event.fact), SUMMARY_WIDTH)) for event in events],
    ))
    click.echo(f"chain of {len(events)} events verified; head {events[-1].hash.hex()[:16]}")


@contextmanager
def _opened(ctx: click.Context, *, create: bool = False) -> Iterator[Ledger]:
    """The ledger named by --db; library errors become one-line messages and exit status 1.

    Only commands that write create a ledger, so a mistyped --db is an error, not a new file.
    """
    try:
        ledger = thread.open(ctx.obj, create=create)
    except LedgerError as error:
        raise click.ClickException(_message(error)) from None
    try:
        yield ledger
    except LedgerError as error:
        raise click.ClickException(_message(error)) from None
    finally:
        ledger.close()


def _message(error: LedgerError) -> str:
    notes = getattr(error, "__notes__", [])
    return " ".join([str(error), *(f"({note})" for note in notes)])


def _part_record(ledger: Ledger, serial: str) -> dict[str, Any]:
    part = ledger.part(serial)
    return {"serial": serial, "part_number": part.part_number, "revision": part.revision,
            "location": part.location, "quarantined": part.quarantined}


def _where(url: str | None) -> str:
    """The ledger as a message names it: a file's absolute path, a URL without its password."""
    url = url or DEFAULT_FILE
    parts = urlsplit(url)
    if parts.scheme in ("postgresql", "postgres"):
        return url.replace(f":{parts.password}@", ":***@") if parts.password else url
    path = url.removeprefix("sqlite:///")
    return path if path == ":memory:" else str(Path(path).resolve())


def _db_option(ctx: click.Context) -> str:
    """`` --db URL`` when the URL came from the command line, so hints can be pasted."""
    root = ctx.find_root()
    if root.get_parameter_source("url") is ParameterSource.COMMANDLINE:
        return f" --db {shlex.quote(str(ctx.obj))}"
    return ""


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _echo_json(value: object) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))
