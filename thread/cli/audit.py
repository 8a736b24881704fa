"""``thread audit-trail``: the Part 11 audit trail of one part or lot, or of everything
recorded since a moment."""

from __future__ import annotations

from datetime import datetime

import click

from thread.cli import MOMENT, Refused, db_option, echo_json, json_option, main, opened
from thread.errors import UnknownSubject


@main.command("audit-trail")
@click.argument("serial", required=False)
@click.option("--lot", metavar="LOT", help="The audit trail of this lot instead of a serial.")
@click.option("--since", type=MOMENT, default=None,
              help="Everything recorded at or after this moment (ISO 8601 with zone), across "
                   "all subjects, failed attempts to sign included.")
@json_option
@click.pass_context
def audit_trail_command(ctx: click.Context, serial: str | None, lot: str | None,
                        since: datetime | None, as_json: bool) -> None:
    """Every correction (old and new values, who, when, why), electronic signature, refused
    attempt and read of controlled data, for SERIAL, a --lot or everything --since a moment
    (21 CFR 11.10(e))."""
    from thread.records.audit_trail import audit_trail

    if sum(given is not None for given in (serial, lot, since)) != 1:
        raise click.UsageError("give one of SERIAL, --lot LOT or --since TIME")
    with opened(ctx) as ledger:
        try:
            if since is not None:
                trail = audit_trail(ledger, since=since)
            elif lot is not None:
                trail = audit_trail(ledger, kind="lot", key=lot)
            else:
                trail = audit_trail(ledger, key=serial)
        except UnknownSubject as error:
            raise Refused(f"{error}; list the serials with: thread{db_option(ctx)} parts"
                          ) from None
    if as_json:
        echo_json(trail.model_dump(mode="json"))
    else:
        click.echo(trail.text())
