"""``thread signer``: the signer registry, kept by an administrator, each change signed."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from thread.cli import Refused, echo_json, json_option, main, opened
from thread.presentation import moment, table

if TYPE_CHECKING:
    from thread.domain.signature import Signer
    from thread.ledger import Ledger

_KEY = click.Path(exists=True, dir_okay=False, path_type=Path)


def _admin_options(command: click.decorators.FC) -> click.decorators.FC:
    command = click.option("--key", "admin_key", type=_KEY, required=True,
                           help="The administrator's key file (asks for its passphrase).")(command)
    return click.option("--as", "admin", required=True, metavar="ADMIN",
                        help="The administrator who signs this change (their signer id).")(
        command)


@main.group()
def signer() -> None:
    """Who may sign: keys, registration, rotation, revocation, lock-outs (21 CFR 11.100)."""


@signer.command("key")
@json_option
@click.argument("signer_id", metavar="SIGNER")
@click.option("-o", "--output", "path", type=click.Path(dir_okay=False, path_type=Path),
              required=True, help="Key file to write (never overwritten); FILE.pub beside it.")
@click.password_option("--passphrase", prompt="Passphrase for the new key",
                       help="Asked for when not given (twice, hidden).")
def key_command(signer_id: str, path: Path, passphrase: str, as_json: bool) -> None:
    """Make SIGNER's key, encrypted under their passphrase; prints the public key."""
    from thread.errors import LedgerError
    from thread.signing.keys import write_signer_key

    try:
        public = write_signer_key(path, passphrase)
    except LedgerError as error:
        raise Refused(str(error)) from None
    _done(as_json, {"signer": signer_id, "key_file": str(path), "public_key": public},
          f"{signer_id}: key {path}, public key {public} (also in {path}.pub)")


def _done(as_json: bool, value: dict[str, object], text: str) -> None:
    if as_json:
        echo_json(value)
    else:
        click.echo(text)


def _admin_signer(ledger: Ledger, admin: str, key_file: Path, founding_name: str | None
                  ) -> Signer:
    """The administrator, identified by id and passphrase; on an empty registry, the founder
    signing their own registration with the key in ``key_file``."""
    from thread.domain.signature import Signer
    from thread.signing.ceremony import SigningSession
    from thread.signing.keys import read_signer_key

    passphrase = click.prompt(f"Passphrase of {admin}", hide_input=True)
    if not ledger.registry_in_use():
        return Signer(admin, founding_name or admin, read_signer_key(key_file, passphrase))
    return SigningSession(ledger, admin, key_file).open(passphrase)


@signer.command("add")
@json_option
@click.argument("signer_id", metavar="SIGNER")
@click.option("--name", "printed_name", required=True, help="Printed name shown on signatures.")
@click.option("--role", "roles", multiple=True, required=True,
              help="A role (repeatable): operator, inspector, quality-engineer, mrb, auditor, "
                   "administrator, or one the plant adds.")
@click.option("--public-key", required=True, metavar="HEX|FILE",
              help="Their public key: 64 hex digits or the .pub file of `thread signer key`.")
@_admin_options
@click.pass_context
def add(ctx: click.Context, signer_id: str, printed_name: str, roles: Sequence[str],
        public_key: str, admin: str, admin_key: Path, as_json: bool) -> None:
    """Register SIGNER. The first registration founds the registry: an administrator
    registering themselves (--as SIGNER) with their own key."""
    from thread.signing import registry
    from thread.signing.keys import read_public_key

    with opened(ctx, create=True) as ledger:
        founder = printed_name if admin == signer_id else None
        by = _admin_signer(ledger, admin, admin_key, founder)
        registry.register(ledger, by, signer_id, printed_name, roles,
                          read_public_key(public_key))
    _done(as_json, {"registered": signer_id, "roles": list(roles), "signed_by": admin},
          f"registered {signer_id} ({printed_name}) as {', '.join(roles)}; signed by {admin}")


@signer.command("rotate")
@json_option
@click.argument("signer_id", metavar="SIGNER")
@click.option("--public-key", required=True, metavar="HEX|FILE", help="The new public key.")
@_admin_options
@click.pass_context
def rotate(ctx: click.Context, signer_id: str, public_key: str, admin: str,
           admin_key: Path, as_json: bool) -> None:
    """Give SIGNER a new key; the previous one signs no more."""
    from thread.signing import registry
    from thread.signing.keys import read_public_key

    with opened(ctx) as ledger:
        by = _admin_signer(ledger, admin, admin_key, None)
        registry.rotate(ledger, by, signer_id, read_public_key(public_key))
    _done(as_json, {"rotated": signer_id, "signed_by": admin},
          f"{signer_id} signs with the new key from now on; signed by {admin}")


@signer.command("revoke")
@json_option
@click.argument("signer_id", metavar="SIGNER")
@click.option("--reason", type=click.Choice(["lost", "compromised", "left", "other"]),
              required=True)
@click.option("--note", default="", help="What happened.")
@_admin_options
@click.pass_context
def revoke(ctx: click.Context, signer_id: str, reason: str, note: str, admin: str,
           admin_key: Path, as_json: bool) -> None:
    """Revoke SIGNER's key: what it signed stays valid, nothing more is signed with it."""
    from thread.signing import registry

    with opened(ctx) as ledger:
        by = _admin_signer(ledger, admin, admin_key, None)
        registry.revoke(ledger, by, signer_id, reason, note)  # type: ignore[arg-type]
    _done(as_json, {"revoked": signer_id, "reason": reason, "signed_by": admin},
          f"{signer_id}'s key is revoked ({reason}); signed by {admin}")


@signer.command("unlock")
@json_option
@click.argument("signer_id", metavar="SIGNER")
@click.option("--reason", required=True, help="Why they may sign again.")
@_admin_options
@click.pass_context
def unlock(ctx: click.Context, signer_id: str, reason: str, admin: str,
           admin_key: Path, as_json: bool) -> None:
    """Let SIGNER, locked after failed attempts, sign again."""
    from thread.signing import registry

    with opened(ctx) as ledger:
        by = _admin_signer(ledger, admin, admin_key, None)
        registry.unlock(ledger, by, signer_id, reason)
    _done(as_json, {"unlocked": signer_id, "signed_by": admin},
          f"{signer_id} is unlocked; signed by {admin}")


@signer.command("roles")
@json_option
@click.argument("signer_id", metavar="SIGNER")
@click.option("--role", "roles", multiple=True, required=True, help="A role (repeatable).")
@click.option("--reason", default="", help="Why.")
@_admin_options
@click.pass_context
def roles_command(ctx: click.Context, signer_id: str, roles: Sequence[str], reason: str,
                  admin: str, admin_key: Path, as_json: bool) -> None:
    """Set the roles SIGNER holds from now on."""
    from thread.signing import registry

    with opened(ctx) as ledger:
        by = _admin_signer(ledger, admin, admin_key, None)
        registry.change_roles(ledger, by, signer_id, roles, reason)
    _done(as_json, {"signer": signer_id, "roles": list(roles), "signed_by": admin},
          f"{signer_id} holds {', '.join(roles)}; signed by {admin}")


@signer.command("list")
@json_option
@click.pass_context
def list_command(ctx: click.Context, as_json: bool) -> None:
    """Every registered signer: roles, active key, since when, locked or not."""
    from thread.signing.registry import signers

    with opened(ctx) as ledger:
        found = signers(ledger)
    if as_json:
        echo_json([{"signer": a.key, "printed_name": a.printed_name, "roles": list(a.roles),
                    "locked": a.locked, "failures": a.failures,
                    "keys": [{"public_key": k.public_key, "valid_from": moment(k.valid_from),
                              "ended_at": moment(k.ended_at) if k.ended_at else None,
                              "ended_because": k.ended_because} for k in a.keys]}
                   for a in found])
        return
    if not found:
        click.echo("no signers registered")
        return
    rows = []
    for account in found:
        active = account.active_key
        rows.append([account.key, account.printed_name, ", ".join(account.roles),
                     f"{active.public_key[:16]}... from {moment(active.valid_from)}"
                     if active else "none (revoked)",
                     "LOCKED" if account.locked else str(account.failures)])
    click.echo(table(["signer", "printed name", "roles", "key", "failed attempts"], rows))
