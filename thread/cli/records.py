"""Commands that write quality records: the device history record and the FAIR."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import click

from thread.cli import (
    Refused,
    as_of_option,
    by_option,
    check_writable,
    db_option,
    echo_json,
    json_option,
    main,
    opened,
    plural,
    write_file,
)
from thread.errors import UnknownSubject
from thread.presentation import printable

if TYPE_CHECKING:
    from thread.records.dhr import DeviceHistoryRecord
    from thread.records.fair import FirstArticleReport

# The records and their PDF writer load when a record is asked for, not with every command.
TimeAxis = Literal["recorded", "occurred"]

Format = Literal["json", "html", "pdf"]
_FORMATS = ("json", "html", "pdf")


def _record_options(command: click.decorators.FC) -> click.decorators.FC:
    """Options every record command shares: output, format, as-of and its clock."""
    for option in reversed((
        click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
                     help="Write the record to FILE; the format follows its extension "
                          "(.json, .html, .pdf) unless --format says otherwise."),
        click.option("--format", "format_", type=click.Choice(_FORMATS),
                     help="json, html or pdf [default: from the -o extension; JSON on stdout "
                          "without -o]."),
        click.option("--signer-key", "signer_keys", multiple=True, metavar="SIGNER=KEY",
                     callback=_signer_keys,
                     help="Pin the Ed25519 public key (64 hex digits) a signer's signatures "
                          "are verified against; repeat per signer. Only a pinned key makes "
                          "a signature VERIFIED."),
        as_of_option,
        by_option,
        json_option,
    )):
        command = option(command)
    return command


def _signer_keys(ctx: click.Context, param: click.Parameter, given: tuple[str, ...]
                 ) -> dict[str, bytes]:
    """``SIGNER=HEX`` pairs as the records' trusted keys; one line for a malformed one."""
    keys: dict[str, bytes] = {}
    for pair in given:
        signer, _, text = pair.partition("=")
        try:
            key = bytes.fromhex(text.strip())
        except ValueError:
            key = b""
        if not signer.strip() or len(key) != 32:
            raise click.BadParameter(
                f"{printable(pair)!r}: expected SIGNER=KEY with the signer's id and its "
                f"Ed25519 public key as 64 hex digits", param_hint="--signer-key")
        keys[signer.strip()] = key
    return keys


@main.command()
@click.argument("key", metavar="SERIAL|LOT")
@_record_options
@click.pass_context
def dhr(ctx: click.Context, key: str, output: Path | None, format_: Format | None,
        signer_keys: dict[str, bytes], as_of: datetime | None, by: TimeAxis,
        as_json: bool) -> None:
    """Write the device history record of a serial or a production lot.

    The ISO 13485:2016 7.5.1 record of production (21 CFR 820.10, QMSR), the
    UDI parsed, every field traced to the ledger events it came from. For
    example:

    \b
      thread dhr BRG-000042 -o dhr.pdf
      thread dhr BRG-000042 --as-of 2026-03-01T00:00Z --by recorded -o dhr.html
    """
    from thread.records.dhr import device_history_record

    _check_output(output, format_)
    with opened(ctx) as ledger:
        try:
            record = device_history_record(ledger, key, as_of=as_of, by=by,
                                           trusted_keys=signer_keys)
        except UnknownSubject as error:
            raise Refused(
                f"{error}; list the serials with: thread{db_option(ctx)} parts") from None
    _write(record, output, format_, as_json)


@main.command()
@click.argument("part_number")
@click.option("--revision", "-r", required=True, help="The design revision of the FAIR.")
@click.option("--serial", help="The first article [default: the earliest produced serial of "
                               "the revision].")
@_record_options
@click.pass_context
def fair(ctx: click.Context, part_number: str, revision: str, serial: str | None,
         output: Path | None, format_: Format | None, signer_keys: dict[str, bytes],
         as_of: datetime | None, by: TimeAxis, as_json: bool) -> None:
    """Write the AS9102 Rev C first article inspection report of a part number and revision.

    Forms 1, 2 and 3 field by field, and whether a new FAI is due (design
    change, process or program change, two-year lapse). For example:

    \b
      thread fair BRG-6204 --revision A -o fair.pdf
      thread fair BRG-6204 --revision A --as-of 2026-03-01T00:00Z --by occurred
    """
    from thread.records.fair import first_article_report

    _check_output(output, format_)
    with opened(ctx) as ledger:
        report = first_article_report(ledger, part_number, revision, serial=serial,
                                      as_of=as_of, by=by, trusted_keys=signer_keys)
    _write(report, output, format_, as_json)


def _write(record: DeviceHistoryRecord | FirstArticleReport, output: Path | None,
           format_: Format | None, as_json: bool) -> None:
    """The record in the chosen format, to the file or to stdout."""
    from thread.records.html import render_html
    from thread.records.pdf import render_pdf

    chosen = format_ or _format_of(output)
    if output is None:
        if chosen == "pdf":
            raise click.UsageError("a PDF goes to a file: add -o FILE.pdf")
        click.echo(render_html(record) if chosen == "html" else _json(record))
        return
    if chosen == "pdf":
        data = render_pdf(record)
    else:
        data = (render_html(record) if chosen == "html" else _json(record) + "\n").encode()
    write_file(output, data, f"the {record.document.title}")
    size = len(data)
    info = record.document
    if as_json:
        echo_json({"document_id": info.document_id, "path": str(output), "format": chosen,
                   "bytes": size, "events_cited": len(record.evidence),
                   "as_of": info.as_of.isoformat() if info.as_of else None, "by": info.by})
        return
    click.echo(printable(f"Wrote {info.title} {info.document_id} to {output} ({chosen}, "
                         f"{plural(len(record.evidence), 'event')} cited)"))


def _check_output(output: Path | None, format_: Format | None) -> None:
    """A record that cannot be written fails before the ledger is read."""
    chosen = format_ or _format_of(output)
    if output is None:
        if chosen == "pdf":
            raise click.UsageError("a PDF goes to a file: add -o FILE.pdf")
        return
    check_writable(output, f"the {chosen.upper()} record")


def _format_of(output: Path | None) -> Format:
    if output is None:
        return "json"
    suffix = output.suffix.lower().lstrip(".")
    if suffix == "htm":
        return "html"
    if suffix in _FORMATS:
        return suffix  # type: ignore[return-value]  # checked against the choices above
    raise click.UsageError(f"cannot tell the format of {output.name!r} from its extension; "
                           "use .json, .html or .pdf, or give --format")


def _json(record: DeviceHistoryRecord | FirstArticleReport) -> str:
    return record.model_dump_json(indent=2)
