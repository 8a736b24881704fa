"""The ``thread`` command: fill a demo plant, list parts, read a part's verified history."""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO, cast
from urllib.parse import urlsplit

import click
from click.core import ParameterSource

import thread
from thread.audit import audit
from thread.bootstrap import DB_VARIABLE, DEFAULT_FILE
from thread.checkpoint import generate_signer
from thread.demo import fill
from thread.dossier import NotCheckpointed, dossier_of
from thread.errors import LedgerError, UnknownSubject
from thread.ledger import Ledger
from thread.offline import DossierError, verify_dossier
from thread.presentation import event_record, moment, shorten, summarize, table
from thread.verify import verify_checkpoint

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


@main.command()
@click.option("-o", "--output", "path", type=click.Path(dir_okay=False, path_type=Path),
              default="ledger.key", show_default=True, help="Where to write the signing key.")
@click.option("--name", help="Key name in signatures [default: this ledger's origin].")
@json_option
@click.pass_context
def keygen(ctx: click.Context, path: Path, name: str | None, as_json: bool) -> None:
    """Write an Ed25519 checkpoint signing key (mode 0600) and print its verifier key."""
    with _opened(ctx, create=True) as ledger:
        signer, verifier = generate_signer(name or ledger.origin)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise click.ClickException(f"{path} exists; keys are never overwritten") from None
    with os.fdopen(descriptor, "w") as handle:
        handle.write(signer + "\n")
    if as_json:
        _echo_json({"key_file": str(path.resolve()), "verifier_key": verifier})
        return
    click.echo(f"signing key written to {path} (keep it secret)")
    click.echo(f"verifier key: {verifier}")


@main.command()
@click.option("--key", "key_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              envvar="THREAD_SIGNING_KEY_FILE", default="ledger.key", show_default=True,
              help="Signing key file from `thread keygen` [env THREAD_SIGNING_KEY_FILE].")
@click.option("-o", "--output", "path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the checkpoint note to this file.")
@json_option
@click.pass_context
def checkpoint(ctx: click.Context, key_file: Path, path: Path | None, as_json: bool) -> None:
    """Sign the log's current tree head as a C2SP checkpoint and store it."""
    signer = key_file.read_text().strip()
    with _opened(ctx) as ledger:
        note = ledger.checkpoint(signer)
    if path is not None:
        path.write_text(note)
    if as_json:
        _echo_json({"note": note})
        return
    click.echo(note, nl=False)


@main.command()
@click.option("--vkey", "vkeys", multiple=True, metavar="VKEY",
              help="Verifier key to trust for checkpoint signatures (repeatable).")
@click.option("--checkpoint", "kept", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A checkpoint note kept from earlier; catches an older copy restored.")
@json_option
@click.pass_context
def verify(ctx: click.Context, vkeys: tuple[str, ...], kept: tuple[Path, ...],
           as_json: bool) -> None:
    """Re-derive every chain, leaf, tree head and checkpoint; exit 0 only if all hold."""
    with _opened(ctx) as ledger:
        show = sys.stderr.isatty() and not as_json
        with click.progressbar(length=max(2 * ledger.count(), 1), label="Verifying",
                               file=sys.stderr if show else cast(TextIO, _Silent())) as bar:
            def advance(done: int, total: int) -> None:
                bar.update(done - bar.pos)
            report = audit(ledger, verifier_keys=vkeys,
                           trusted_checkpoints=[p.read_text() for p in kept], progress=advance)
    first = report.first
    if as_json:
        _echo_json({"ok": report.ok, "events": report.events, "aggregates": report.aggregates,
                    "tree_size": report.tree_size, "root": report.root.hex(),
                    "checkpoints": report.checkpoints,
                    "signatures_checked": report.signatures_checked,
                    "first_problem": first.describe() if first else None,
                    "problems": [finding.describe() for finding in sorted(report.findings)]})
    elif report.ok:
        signatures = (f", {report.signatures_checked} signatures checked" if vkeys else
                      " (signatures not checked: give --vkey)")
        click.echo(f"verified: {report.events} events in {report.aggregates} chains, tree of "
                   f"{report.tree_size} leaves, root {report.root.hex()[:16]}, "
                   f"{report.checkpoints} checkpoints{signatures}")
    else:
        click.echo(f"NOT VERIFIED: {len(report.findings)} problem(s); the first:", err=True)
        assert first is not None
        click.echo(f"  {first.describe()}", err=True)
        for finding in sorted(report.findings)[1:6]:
            click.echo(f"  also: {finding.describe()}", err=True)
    if not report.ok:
        ctx.exit(1)


@main.command("verify-checkpoint")
@click.argument("note_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--vkey", required=True, help="The verifier key of the log's signer.")
@json_option
def verify_checkpoint_command(note_file: Path, vkey: str, as_json: bool) -> None:
    """Verify any C2SP checkpoint note (this ledger's or another log's)."""
    try:
        checkpoint = verify_checkpoint(note_file.read_bytes(), vkey)
    except LedgerError as error:
        raise click.ClickException(_message(error)) from None
    if as_json:
        _echo_json({"origin": checkpoint.origin, "size": checkpoint.size,
                    "root": checkpoint.root.hex()})
        return
    click.echo(f"verified: {checkpoint.origin}, {checkpoint.size} leaves, root "
               f"{checkpoint.root.hex()}")


@main.command()
@click.argument("serial")
@click.option("-o", "--output", "path", required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the dossier (JSON, thread-dossier/v1).")
@json_option
@click.pass_context
def dossier(ctx: click.Context, serial: str, path: Path, as_json: bool) -> None:
    """Write a part's self-contained dossier: events, inclusion proofs, signed checkpoint.

    An auditor checks it with `thread verify-dossier FILE --vkey VKEY`, no database needed.
    """
    with _opened(ctx) as ledger:
        try:
            written = dossier_of(ledger, serial)
        except UnknownSubject as error:
            raise click.ClickException(
                f"{error}; list the serials with: thread{_db_option(ctx)} parts"
            ) from None
        except NotCheckpointed as error:
            raise click.ClickException(
                f"{error}; sign one with: thread{_db_option(ctx)} checkpoint, then write the "
                "dossier again"
            ) from None
    path.write_bytes(written.dossier.to_bytes())
    events = len(written.dossier.events)
    if as_json:
        _echo_json({"file": str(path.resolve()), "serial": serial, "events": events,
                    "last_version": written.last_version,
                    "tree_size": written.dossier.tree_size,
                    "later_events": written.later_events})
        return
    click.echo(f"dossier of part {serial} written to {path}: {_count(events, 'event')} "
               f"(versions 1-{written.last_version}), proved against the signed checkpoint of "
               f"{written.dossier.tree_size} leaves")
    if written.later_events:
        click.echo(f"{_count(written.later_events, 'later event')} of {serial} came after that "
                   f"checkpoint and are not in it; to include them: "
                   f"thread{_db_option(ctx)} checkpoint, then write the dossier again")


@main.command("verify-dossier")
@click.argument("dossier_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--vkey", "vkeys", required=True, multiple=True, metavar="VKEY",
              help="Verifier key of the log's signer (repeatable).")
@json_option
@click.pass_context
def verify_dossier_command(ctx: click.Context, dossier_file: Path, vkeys: tuple[str, ...],
                           as_json: bool) -> None:
    """Verify a part's dossier without any database and print the part's story."""
    try:
        verified = verify_dossier(dossier_file.read_bytes(), vkeys)
    except DossierError as error:
        if as_json:
            _echo_json({"ok": False, "file": str(dossier_file), "problem": str(error)})
        else:
            click.echo(f"NOT VERIFIED: {dossier_file}: {error}", err=True)
        ctx.exit(1)
    if as_json:
        _echo_json(verified.record())
        return
    click.echo(table(
        ("VER", "OCCURRED (UTC)", "RECORDED (UTC)", "TOPIC", "ACTOR", "SUMMARY"),
        [(str(event.version), moment(event.occurred_at), moment(event.recorded_at),
          event.topic, event.actor, shorten(event.summary, SUMMARY_WIDTH))
         for event in verified.events],
    ))
    click.echo(f"verified: part {verified.serial}, versions 1-{verified.events[-1].version} "
               f"linked from its first event, each in log {verified.origin} (tree of "
               f"{verified.tree_size} leaves, root {verified.root.hex()[:16]}) signed by "
               f"{', '.join(key.split('+')[0] for key in verified.signed_by)}")
    click.echo(f"this dossier {verified.coverage}")


class _Silent:
    """A file that swallows a progress bar when nobody is watching."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        """Nothing to flush."""

    def isatty(self) -> bool:
        return False


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
