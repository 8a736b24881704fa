"""The ``thread collect sparkplug`` command: one machine's Sparkplug B edge node into the ledger."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from types import FrameType

import click

from thread.cli import echo_json, json_option, ledger_name, message, opened, plural
from thread.errors import LedgerError
from thread.ledger import Ledger
from thread_adapters.readings import ReadingSink
from thread_adapters.sparkplug.config import collector_for, connection_of
from thread_adapters.sparkplug.session import SessionStats
from thread_adapters.tagmap import TagMap, load_tag_map


@click.command("sparkplug")
@click.option("--map", "map_file", required=True, metavar="MAP",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The machine's tag map (TOML or YAML) with a [connection.sparkplug] section.")
@json_option
@click.pass_context
def sparkplug(ctx: click.Context, map_file: Path, as_json: bool) -> None:
    """Collect a machine's Sparkplug B edge node into the ledger, until stopped.

    Subscribes to the edge node named in the map's [connection.sparkplug]
    section as a Sparkplug host application, asks it to rebirth, and turns
    its metrics into process records, condition blocks and alarms through
    the tag map: a node metric is known by its name, a device metric by
    DEVICE/NAME. Skipped seq numbers, deaths and lost connections are
    recorded as collection gaps. Ctrl-C or SIGTERM stops cleanly and writes
    everything buffered.
    """
    try:
        tag_map = load_tag_map(map_file)
        connection = connection_of(tag_map)
    except LedgerError as error:
        raise click.ClickException(message(error)) from None
    where = f"{connection.group}/{connection.edge_node} at {connection.host}:{connection.port}"
    live = sys.stderr.isatty() and not as_json
    stop = threading.Event()

    def show(stats: SessionStats, connected: bool) -> None:
        state = "connected" if connected else "reconnecting"
        line = (f"{where}: {state}; {plural(stats.messages, 'message')}, "
                f"{plural(stats.readings, 'reading')}, {plural(stats.gaps, 'gap')} "
                f"({stats.lost_messages} lost), {stats.rebirths_requested} rebirth requests")
        click.echo(f"\r{line:<120}", nl=False, err=True)

    def halt(_signal: int, _frame: FrameType | None) -> None:
        stop.set()

    with opened(ctx, create=True) as ledger:
        collector = collector_for(tag_map, machine_sink(ledger, tag_map), connection=connection)
        previous = {number: signal.signal(number, halt)
                    for number in (signal.SIGINT, signal.SIGTERM)}
        try:
            collector.run(stop, on_tick=show if live else None)
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)
            if live:
                click.echo("", err=True)
        stats = collector.stats()
    if as_json:
        echo_json({"db": ledger_name(ctx.obj), "group": connection.group,
                   "edge_node": connection.edge_node, "messages": stats.messages,
                   "readings": stats.readings, "historical": stats.historical,
                   "gaps": stats.gaps, "lost_messages": stats.lost_messages,
                   "dropped_messages": stats.dropped_messages,
                   "skipped_metrics": stats.skipped_metrics,
                   "ignored_messages": stats.ignored_messages,
                   "rebirths_requested": stats.rebirths_requested})
        return
    click.echo(f"stopped; {plural(stats.readings, 'reading')} from "
               f"{plural(stats.messages, 'message')} of {where}, "
               f"{plural(stats.gaps, 'gap')} recorded, into {ledger_name(ctx.obj)}", err=True)


def machine_sink(ledger: Ledger, tag_map: TagMap) -> ReadingSink:
    """The mapping layer's sink for the machine of ``tag_map``, writing to ``ledger``."""
    raise click.ClickException(
        "the mapping layer (thread_adapters.mapping) that turns readings into facts is not "
        "available in this version; the Sparkplug B collector cannot record yet")


#: The commands this module adds to its group.
COMMANDS: list[click.Command] = [sparkplug]
