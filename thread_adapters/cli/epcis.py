"""``thread epcis export|hash``: GS1 EPCIS 2.0 out of the ledger, and the CBV 2.0 event hash
of any EPCIS 2.0 document, so a partner's hashes can be checked."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click

from thread.cli import (
    MOMENT,
    Refused,
    check_writable,
    echo_json,
    json_option,
    opened,
    plural,
    write_file,
)


@click.group()
def epcis() -> None:
    """GS1 EPCIS 2.0: the ledger's facts out as events, and the CBV 2.0 event hash."""


@epcis.command("export")
@click.argument("serial", required=False)
@click.option("--since", type=MOMENT, default=None, help="Every event recorded from then on.")
@click.option("-o", "--output", "path", required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the EPCIS 2.0 JSON-LD document.")
@json_option
@click.pass_context
def export(ctx: click.Context, serial: str | None, since: datetime | None, path: Path,
           as_json: bool) -> None:
    """Write one part's events (SERIAL), or every event since a time, as an EPCIS 2.0 JSON-LD
    document with CBV 2.0 vocabulary; each event's eventID is its CBV 2.0 event hash."""
    from thread_adapters.epcis.export import epcis_document

    if serial is not None and since is not None:
        raise click.UsageError("give SERIAL or --since, not both")
    check_writable(path, "the EPCIS document")
    with opened(ctx) as ledger:
        document = epcis_document(ledger, serial=serial, since=since)
    write_file(path, (json.dumps(document, indent=2) + "\n").encode(), "the EPCIS document")
    events = document["epcisBody"]["eventList"]
    if as_json:
        echo_json({"file": str(path.resolve()), "events": len(events)})
        return
    click.echo(f"wrote {plural(len(events), 'EPCIS event')} to {path}")


@epcis.command("hash")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option
def hash_command(file: Path, as_json: bool) -> None:
    """Print the CBV 2.0 event hash of every event of an EPCIS 2.0 document (JSON-LD or
    XML), one per line in document order."""
    from thread_adapters.epcis.event_hash import (
        EventHashError,
        document_hashes,
        xml_document_hashes,
    )

    data = file.read_bytes()
    try:
        if data.lstrip().startswith(b"<"):
            hashes = xml_document_hashes(data)
        else:
            try:
                document = json.loads(data)
            except (UnicodeDecodeError, ValueError) as error:
                raise EventHashError(f"{file}: not JSON-LD or XML: {error}") from None
            hashes = document_hashes(document)
    except EventHashError as error:
        raise Refused(str(error)) from None
    if as_json:
        echo_json({"file": str(file), "hashes": hashes})
        return
    for value in hashes:
        click.echo(value)


@epcis.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option
@click.pass_context
def import_command(ctx: click.Context, file: Path, as_json: bool) -> None:
    """Capture a partner's EPCIS 2.0 JSON-LD document: installations, removals and shipments
    become the ledger's facts, every other event about a part or lot it holds is kept on it;
    the same document again writes nothing, and one invalid event refuses the whole file."""
    from thread_adapters.epcis.capture import CaptureError, capture

    try:
        document = json.loads(file.read_bytes())
    except (UnicodeDecodeError, ValueError) as error:
        raise Refused(f"{file}: not a JSON-LD document: {error}") from None
    if not isinstance(document, dict):
        raise Refused(f"{file}: not an EPCIS 2.0 document (a JSON object)")
    with opened(ctx) as ledger:
        try:
            done = capture(ledger, document)
        except CaptureError as error:
            raise Refused(f"{file}: {error}") from None
    if as_json:
        echo_json({"file": str(file), "events": done.events, "recorded": done.recorded,
                   "already": done.already, "about_nothing_here": list(done.about_nothing_here)})
        return
    click.echo(f"{file}: {plural(done.events, 'event')}; {plural(done.recorded, 'fact')} "
               f"recorded, {done.already} already held"
               + (f"; {plural(len(done.about_nothing_here), 'event')} about nothing this "
                  f"ledger holds, not recorded: {', '.join(done.about_nothing_here[:5])}"
                  + (" ..." if len(done.about_nothing_here) > 5 else "")
                  if done.about_nothing_here else ""))
