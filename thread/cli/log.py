"""Commands of the verifiable log: keys, checkpoints, verification, dossiers."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TextIO, cast

import click

from thread.cli import (
    SUMMARY_WIDTH,
    Silent,
    db_option,
    echo_json,
    json_option,
    main,
    message,
    opened,
    plural,
)
from thread.errors import LedgerError, UnknownSubject
from thread.log.audit import audit
from thread.log.checkpoint import generate_signer
from thread.log.dossier import NotCheckpointed, dossier_of
from thread.log.offline import DossierError, verify_dossier
from thread.log.verify import verify_checkpoint
from thread.presentation import moment, shorten, table


@main.command()
@click.option("-o", "--output", "path", type=click.Path(dir_okay=False, path_type=Path),
              default="ledger.key", show_default=True, help="Where to write the signing key.")
@click.option("--name", help="Key name in signatures [default: this ledger's origin].")
@json_option
@click.pass_context
def keygen(ctx: click.Context, path: Path, name: str | None, as_json: bool) -> None:
    """Write an Ed25519 checkpoint signing key (mode 0600) and print its verifier key."""
    with opened(ctx, create=True) as ledger:
        signer, verifier = generate_signer(name or ledger.origin)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise click.ClickException(f"{path} exists; keys are never overwritten") from None
    with os.fdopen(descriptor, "w") as handle:
        handle.write(signer + "\n")
    if as_json:
        echo_json({"key_file": str(path.resolve()), "verifier_key": verifier})
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
    with opened(ctx) as ledger:
        note = ledger.checkpoint(signer)
    if path is not None:
        path.write_text(note)
    if as_json:
        echo_json({"note": note})
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
    with opened(ctx) as ledger:
        show = sys.stderr.isatty() and not as_json
        with click.progressbar(length=max(2 * ledger.count(), 1), label="Verifying",
                               file=sys.stderr if show else cast(TextIO, Silent())) as bar:
            def advance(done: int, total: int) -> None:
                bar.update(done - bar.pos)
            report = audit(ledger, verifier_keys=vkeys,
                           trusted_checkpoints=[p.read_text() for p in kept], progress=advance)
    first = report.first
    if as_json:
        echo_json({"ok": report.ok, "events": report.events, "aggregates": report.aggregates,
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
        raise click.ClickException(message(error)) from None
    if as_json:
        echo_json({"origin": checkpoint.origin, "size": checkpoint.size,
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
    with opened(ctx) as ledger:
        try:
            written = dossier_of(ledger, serial)
        except UnknownSubject as error:
            raise click.ClickException(
                f"{error}; list the serials with: thread{db_option(ctx)} parts"
            ) from None
        except NotCheckpointed as error:
            raise click.ClickException(
                f"{error}; sign one with: thread{db_option(ctx)} checkpoint, then write the "
                "dossier again"
            ) from None
    path.write_bytes(written.dossier.to_bytes())
    events = len(written.dossier.events)
    if as_json:
        echo_json({"file": str(path.resolve()), "serial": serial, "events": events,
                    "last_version": written.last_version,
                    "tree_size": written.dossier.tree_size,
                    "later_events": written.later_events})
        return
    click.echo(f"dossier of part {serial} written to {path}: {plural(events, 'event')} "
               f"(versions 1-{written.last_version}), proved against the signed checkpoint of "
               f"{written.dossier.tree_size} leaves")
    if written.later_events:
        click.echo(f"{plural(written.later_events, 'later event')} of {serial} came after that "
                   f"checkpoint and are not in it; to include them: "
                   f"thread{db_option(ctx)} checkpoint, then write the dossier again")


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
            echo_json({"ok": False, "file": str(dossier_file), "problem": str(error)})
        else:
            click.echo(f"NOT VERIFIED: {dossier_file}: {error}", err=True)
        ctx.exit(1)
    if as_json:
        echo_json(verified.record())
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

