"""The ``thread collect opcua`` command: one machine's OPC UA data changes into the ledger."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import asdict
from pathlib import Path

import click

from thread.errors import LedgerError


@click.command("opcua")
@click.option("--map", "map_path", required=True, metavar="MAP",
              type=click.Path(dir_okay=False, path_type=Path),
              help="The machine's tag map (.toml, .yaml or .yml).")
@click.option("--endpoint", metavar="URL",
              help="The server's opc.tcp:// URL, instead of [connection.opcua] endpoint.")
@click.option("--json", "as_json", is_flag=True,
              help="When stopped, print the final counts as JSON on standard output.")
@click.option("-v", "--verbose", is_flag=True, help="Log what the OPC UA library reports.")
@click.pass_context
def opcua(ctx: click.Context, map_path: Path, endpoint: str | None, as_json: bool,
          verbose: bool) -> None:
    """Collect a machine's OPC UA data changes into the ledger until stopped (Ctrl-C).

    Subscribes to every tag of the map that has an opcua.node, records a
    process record per part when its cycle completes, condition windows,
    alarms, and a gap for every stretch the server could not be reached.
    Live counts show on a terminal; on Ctrl-C or SIGTERM whatever is
    buffered is written before it exits.
    """
    # Imported here: thread.cli loads this module through its entry points.
    from thread.cli import ledger_name, message, opened
    from thread_adapters.collector import Console, collect, stop_on_signals
    from thread_adapters.mapping import MappingLayer
    from thread_adapters.opcua import OpcUaCollector
    from thread_adapters.tagmap import load_tag_map

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if not verbose:
        # asyncua logs every dropped connection with a traceback; the collector says it once.
        logging.getLogger("asyncua").setLevel(logging.CRITICAL)
    console = Console()
    try:
        tag_map = load_tag_map(map_path)
    except LedgerError as error:
        raise click.ClickException(message(error)) from None
    with opened(ctx, create=True) as ledger:
        layer = MappingLayer(ledger, tag_map, protocol="opcua")
        collector = OpcUaCollector(tag_map, layer, endpoint=endpoint, on_status=console.say)

        def counts() -> dict[str, object]:
            seen, written = collector.stats, layer.stats()
            return {"connected": "yes" if seen.connected else "no", "values": seen.values,
                    "parts": written.process_records, "windows": written.condition_records,
                    "alarms": written.alarms, "gaps": written.gaps, "pending": written.pending}

        async def run() -> None:
            stop = asyncio.Event()
            undo = stop_on_signals(stop)
            try:
                await collect(layer, collector.run, stop,
                              write_every_s=tag_map.collection.write_every_s,
                              console=console, counts=counts)
            finally:
                undo()

        console.say(f"collecting {tag_map.machine.id} from {collector.endpoint} into "
                    f"{ledger_name(ctx.obj)}; Ctrl-C to stop")
        asyncio.run(run())
        final = layer.stats()
        console.say(f"stopped: {collector.stats.values:,} values, "
                    f"{final.process_records} process records, {final.condition_records} "
                    f"condition records, {final.alarms} alarms, {final.gaps} gaps written")
        if as_json:
            click.echo(json.dumps({"opcua": asdict(collector.stats), "ledger": asdict(final)}))


#: The commands this module adds to its group.
COMMANDS: list[click.Command] = [opcua]
