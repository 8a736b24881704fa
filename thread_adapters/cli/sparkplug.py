"""The ``thread collect sparkplug`` command: one machine's Sparkplug B edge node into the ledger."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click

from thread.cli import echo_json, json_option, ledger_name, message, opened, plural
from thread.errors import LedgerError
from thread_adapters.sparkplug.config import collector_for, connection_of
from thread_adapters.sparkplug.session import SessionStats
from thread_adapters.tagmap import load_tag_map

if TYPE_CHECKING:
    from thread_adapters.mapping import CollectionStats, MappingLayer
    from thread_adapters.sparkplug.collector import SparkplugCollector


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
    recorded as collection gaps; history the node sends from its
    store-and-forward buffer afterwards is merged in time. A reading or
    record that is refused is printed on its own line and collection goes on.
    Ctrl-C or SIGTERM stops cleanly and writes everything buffered.
    """
    # The mapping layer (numpy) loads only when a collector runs, not with every command.
    from thread_adapters.mapping import MappingLayer

    try:
        tag_map = load_tag_map(map_file)
        connection = connection_of(tag_map)
    except LedgerError as error:
        raise click.ClickException(message(error)) from None
    where = f"{connection.group}/{connection.edge_node} at {connection.host}:{connection.port}"
    stop = threading.Event()

    def halt(_signal: int, _frame: FrameType | None) -> None:
        stop.set()

    with opened(ctx, create=True) as ledger:
        layer = MappingLayer(ledger, tag_map, protocol="sparkplug")
        collector = collector_for(tag_map, layer, connection=connection)
        progress = _Progress(layer, collector, where, live=sys.stderr.isatty() and not as_json)
        previous = {number: signal.signal(number, halt)
                    for number in (signal.SIGINT, signal.SIGTERM)}
        try:
            collector.run(stop, on_tick=progress.show, housekeeping=progress.refresh)
            layer.close()
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)
            progress.end()
        stats, records = collector.stats(), layer.stats()
    if as_json:
        echo_json({"db": ledger_name(ctx.obj), "group": connection.group,
                   "edge_node": connection.edge_node, "messages": stats.messages,
                   "readings": stats.readings, "historical": stats.historical,
                   "gaps": stats.gaps, "lost_messages": stats.lost_messages,
                   "dropped_messages": stats.dropped_messages,
                   "skipped_metrics": stats.skipped_metrics,
                   "ignored_messages": stats.ignored_messages,
                   "rebirths_requested": stats.rebirths_requested,
                   "refused_readings": stats.refused_readings,
                   "refused_records": records.refused,
                   "backfilled_readings": records.backfilled,
                   "late_readings": records.late,
                   "process_records": records.process_records,
                   "condition_records": records.condition_records,
                   "alarms": records.alarms, "unmapped_tags": records.unmapped})
        return
    click.echo(f"stopped; {plural(stats.readings, 'reading')} from "
               f"{plural(stats.messages, 'message')} of {where}: "
               f"{plural(records.process_records, 'process record')}, "
               f"{plural(records.condition_records, 'condition record')}, "
               f"{plural(records.alarms, 'alarm')}, {plural(stats.gaps, 'gap')} "
               f"in {ledger_name(ctx.obj)}"
               + (f"; {plural(stats.refused_readings, 'reading')} and "
                  f"{plural(records.refused, 'record')} refused"
                  if stats.refused_readings or records.refused else ""), err=True)


class _Progress:
    """The command's console: refusals on their own lines, and a live status line on a terminal."""

    def __init__(self, layer: MappingLayer, collector: SparkplugCollector, where: str, *,
                 live: bool) -> None:
        self.layer, self.collector, self.where, self.live = layer, collector, where, live
        self.records: CollectionStats = layer.stats()

    def refresh(self) -> None:
        """Read the layer's counts (runs while no message is handled, so the layer is ours)."""
        self.records = self.layer.stats()

    def show(self, stats: SessionStats, connected: bool) -> None:
        """Print what was refused since the last tick, then rewrite the status line."""
        self.say_refusals()
        if not self.live:
            return
        refused = stats.refused_readings + self.records.refused
        line = (f"{self.where}: {'connected' if connected else 'reconnecting'}; "
                f"{plural(stats.readings, 'reading')}, "
                f"{plural(self.records.process_records, 'process record')}, "
                f"{plural(stats.gaps, 'gap')} ({stats.lost_messages} lost), "
                f"{plural(stats.rebirths_requested, 'rebirth request')}"
                + (f", {refused} refused" if refused else ""))
        click.echo(f"\r{line:<130}", nl=False, err=True)

    def say_refusals(self) -> None:
        """One line per refused reading or record, whatever the terminal."""
        for text in self.collector.take_refusals():
            if self.live:
                click.echo(f"\r{'':<130}\r", nl=False, err=True)
            click.echo(f"refused, collection goes on: {text}", err=True)

    def end(self) -> None:
        """Say the last refusals and leave the status line."""
        if self.live:
            click.echo("", err=True)
        self.say_refusals()


#: The commands this module adds to its group.
COMMANDS: list[click.Command] = [sparkplug]
