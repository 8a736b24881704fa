"""The OPC UA collector against a real asyncua server: a simulated grinder, restarts, the CLI."""

from __future__ import annotations

import asyncio
import io
import math
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest
from asyncua import ua
from asyncua.server.server import Server
from asyncua.ua.uatypes import VariantType

import thread
from thread import facts as f
from thread_adapters.collector import Console, collect
from thread_adapters.mapping import MappingLayer, UnitMismatch
from thread_adapters.opcua import OpcUaCollector, OpcUaError
from thread_adapters.samples import decode
from thread_adapters.tagmap import TagMap, TagMapError, parse_tag_map

F = TypeVar("F", bound=f.Fact)
T = TypeVar("T")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
WAIT_S = 60

GRINDER_MAP = """\
[machine]
id = "GRINDER-1"
name = "Simulated bore grinder"
kind = "grinder"
register = true

[connection.opcua]
endpoint = "opc.tcp://127.0.0.1:{port}/grinder"
publishing_interval_ms = 50
watchdog_s = 0.5
timeout_s = 2
reconnect_s = 0.2
reconnect_max_s = 1

[part]
operation = "OP30-grind"
register = "undocumented"
part_number = "BRG-6204"
revision = "A"

[conditions]
window_s = 3600

[collection]
settle_s = 0.2
write_every_s = 0.2

[tags.serial]
kind = "serial"
opcua.node = "ns=2;s=Grinder1.Part.Serial"

[tags.cycle_start]
kind = "cycle-start"
opcua.node = "ns=2;s=Grinder1.Cycle.Start"

[tags.cycle_complete]
kind = "cycle-complete"
opcua.node = "ns=2;s=Grinder1.Cycle.Complete"

[tags.spindle_speed]
unit = "rpm"
resolution = 0.1
opcua.node = "ns=2;s=Grinder1.Spindle.Speed"

[tags.spindle_temperature]
unit = "Cel"
resolution = 0.01
condition = true
opcua.node = "nsu=urn:test:grinder;s=Grinder1.Spindle.Temperature"

[tags.coolant_pressure]
unit = "bar"
resolution = 0.01
opcua.node = "ns=2;s=Grinder1.Coolant.Pressure"

[tags.vibration]
kind = "condition"
unit = "mm/s"
threshold = 4.5
opcua.node = "ns=2;s=Grinder1.Spindle.Vibration"

[tags.overload]
kind = "alarm"
code = "A-7"
text = "Spindle overload"
opcua.node = "ns=2;s=Grinder1.Alarms.Overload"
"""

PARAMETERS = ("spindle_speed", "spindle_temperature", "coolant_pressure")


def unece(code: str) -> int:
    """The EUInformation UnitId of a UN/CEFACT common code."""
    return int.from_bytes(code.encode("ascii"), "big")


#: tag -> (browse path, type, initial value, UN/CEFACT unit code or None)
NODES: dict[str, tuple[str, VariantType, Any, str | None]] = {
    "serial": ("Part.Serial", VariantType.String, "", None),
    "cycle_start": ("Cycle.Start", VariantType.Boolean, False, None),
    "cycle_complete": ("Cycle.Complete", VariantType.Boolean, False, None),
    "spindle_speed": ("Spindle.Speed", VariantType.Double, 0.0, "RPM"),
    "spindle_temperature": ("Spindle.Temperature", VariantType.Double, 21.0, "CEL"),
    "coolant_pressure": ("Coolant.Pressure", VariantType.Double, 0.0, "BAR"),
    "vibration": ("Spindle.Vibration", VariantType.Double, 0.5, "C16"),
    "overload": ("Alarms.Overload", VariantType.Boolean, False, None),
}


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def ns(moment: datetime) -> int:
    """A datetime as ns since the epoch, exactly."""
    return (moment - EPOCH) // timedelta(microseconds=1) * 1000


@dataclass(frozen=True)
class Published:
    """One value the simulated PLC wrote, with its source timestamp."""

    tag: str
    value: Any
    at: datetime


@dataclass(frozen=True)
class Cycle:
    """One part ground by the simulated grinder."""

    serial: str
    start: datetime
    end: datetime


class Grinder:
    """A simulated bore grinder: a real asyncua server whose PLC stamps every value it writes."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"opc.tcp://127.0.0.1:{port}/grinder"
        self.server: Server | None = None
        self.variables: dict[str, Any] = {}
        self.published: list[Published] = []
        self.cycles: list[Cycle] = []
        self.clock = datetime.now(UTC).replace(microsecond=0)

    async def start(self) -> None:
        """Start (or restart) the server with a fresh address space, as a rebooted PLC has."""
        server = Server()
        await server.init()
        server.set_endpoint(self.url)
        index = await server.register_namespace("urn:test:grinder")
        machine = await server.nodes.objects.add_object(index, "Grinder1")
        for tag, (path, kind, initial, unit) in NODES.items():
            variable = await machine.add_variable(ua.NodeId(ua.String(f"Grinder1.{path}"),
                                                            ua.Int16(index)), path,
                                                  ua.Variant(initial, kind))
            if unit is not None:
                await variable.add_property(0, "EngineeringUnits", ua.EUInformation(
                    NamespaceUri="http://www.opcfoundation.org/UA/units/un/cefact",
                    UnitId=unece(unit), DisplayName=ua.LocalizedText(unit)))
            self.variables[tag] = variable
        await server.start()
        self.server = server

    async def stop(self) -> None:
        """Shut the server down (subscriptions die with it)."""
        assert self.server is not None
        await self.server.stop()
        self.server = None

    def tick(self, after_ms: float = 1.0) -> datetime:
        """The PLC's clock: never behind real time, always moving forward."""
        self.clock = max(self.clock + timedelta(milliseconds=after_ms), datetime.now(UTC))
        return self.clock

    async def write(self, tag: str, value: Any, at: datetime) -> None:
        """Write a value with its source timestamp, as the PLC takes it."""
        kind = NODES[tag][1]
        stamp = ua.DateTime.fromisoformat(at.isoformat())
        await self.variables[tag].write_value(ua.DataValue(
            ua.Variant(value, kind), SourceTimestamp=stamp, ServerTimestamp=stamp))
        self.published.append(Published(tag, value, at))

    async def grind(self, serial: str, samples: int = 25) -> Cycle:
        """One part: serial, start pulse, parameters every millisecond, complete pulse."""
        start = self.tick()
        await self.write("serial", serial, start)
        await self.write("cycle_start", True, start)
        phase = len(self.cycles)
        for index in range(samples):
            at = start + timedelta(milliseconds=index)
            await self.write("spindle_speed", round(12_000 + 25 * math.sin(index / 3 + phase), 1),
                             at)
            await self.write("spindle_temperature", round(38 + 0.01 * index + 0.1 * phase, 2), at)
            await self.write("coolant_pressure", round(6.2 + 0.05 * math.cos(index), 2), at)
            await self.write("vibration", round(1.0 + 0.02 * index, 2), at)
        await self.write("cycle_start", False, start + timedelta(milliseconds=samples))
        end = start + timedelta(milliseconds=samples + 1)
        await self.write("cycle_complete", True, end)
        await self.write("cycle_complete", False, end + timedelta(milliseconds=1))
        self.clock = end + timedelta(milliseconds=2)
        # A real PLC's clock does not run ahead of the world: wait until it has caught up.
        await asyncio.sleep(max(0.0, (self.clock - datetime.now(UTC)).total_seconds()))
        cycle = Cycle(serial, start, end)
        self.cycles.append(cycle)
        return cycle

    def readings(self, tag: str, cycle: Cycle) -> list[Published]:
        """What the PLC published for a tag during a cycle."""
        return [p for p in self.published if p.tag == tag and cycle.start <= p.at <= cycle.end]


def grinder_map(port: int, **changes: str) -> TagMap:
    """The simulated grinder's tag map, with some lines changed."""
    text = GRINDER_MAP.replace("{port}", str(port))
    for old, new in changes.items():
        assert old in text or old.replace("_", " ") in text
        text = text.replace(old, new)
    return parse_tag_map(text, file="grinder-1.toml")


def facts_of(ledger: thread.Ledger, kind: type[F]) -> list[F]:
    """Every recorded fact of one kind, in commit order."""
    ledger.forget()
    return [event.fact for _, event in ledger.scan(topics=[kind.topic])
            if isinstance(event.fact, kind)]


async def until(check: Callable[[], bool], what: str) -> None:
    """Wait (polling) until ``check`` holds; fail naming ``what`` if it never does."""
    for _ in range(WAIT_S * 20):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


async def within(awaitable: Awaitable[T]) -> T:
    """Await with a generous limit, so a broken collector fails the test instead of hanging."""
    return await asyncio.wait_for(awaitable, WAIT_S)


def check_records(ledger: thread.Ledger, grinder: Grinder, cycles: list[Cycle]) -> None:
    """Every cycle's process record holds exactly what the PLC published during it."""
    records = {r.serial: r for r in facts_of(ledger, f.ProcessRecorded)}
    assert set(records) == {cycle.serial for cycle in cycles}
    for cycle in cycles:
        record = records[cycle.serial]
        assert (record.started_at, record.ended_at) == (cycle.start, cycle.end)
        assert record.machine == "GRINDER-1" and record.operation == "OP30-grind"
        by_name = {p.name: p for p in record.parameters}
        assert set(by_name) == set(PARAMETERS)
        for name in PARAMETERS:
            published = grinder.readings(name, cycle)
            values = [p.value for p in published]
            summary = by_name[name]
            assert (summary.n, summary.min, summary.max) == (len(values), min(values),
                                                             max(values))
            assert summary.mean == pytest.approx(float(np.mean(values)))
            assert summary.samples is not None
            block = decode(summary.samples)
            assert block.times_ns.tolist() == [ns(p.at) for p in published]
            assert np.allclose(block.values, values, atol=0.006)


def test_what_the_ledger_holds_matches_what_the_server_published_across_a_restart(
        tmp_path: Path) -> None:
    """Cycles before and after a server restart are recorded exactly, and the gap between."""

    async def scenario() -> None:
        grinder = Grinder(free_port())
        await grinder.start()
        ledger = thread.open(str(tmp_path / "ledger.db"))
        tag_map = grinder_map(grinder.port)
        layer = MappingLayer(ledger, tag_map, protocol="opcua")
        collector = OpcUaCollector(tag_map, layer)
        stop = asyncio.Event()
        running = asyncio.create_task(collect(layer, collector.run, stop, write_every_s=0.2))
        await within(collector.wait_sessions(1))
        before = [await grinder.grind(f"BRG-{index:04d}") for index in range(3)]
        sent = len(NODES) + len(grinder.published)
        await until(lambda: collector.stats.values >= sent, "the first cycles to arrive")

        await grinder.stop()
        stopped_at = datetime.now(UTC)  # after the stop: the server's clock ticks until then
        await until(lambda: not collector.stats.connected and collector.stats.reconnect_failures
                    > 0, "the collector to notice the server is gone")
        restarted_at = datetime.now(UTC)
        await grinder.start()
        await within(collector.wait_sessions(2))
        published_before = len(grinder.published)
        after = [await grinder.grind(f"BRG-{index:04d}") for index in range(3, 5)]
        sent += len(NODES) + len(grinder.published) - published_before
        await until(lambda: collector.stats.values >= sent, "the later cycles to arrive")
        stop.set()
        await within(running)
        await grinder.stop()

        check_records(ledger, grinder, before + after)
        (gap,) = facts_of(ledger, f.CollectionGapRecorded)
        assert gap.machine == "GRINDER-1" and gap.protocol == "opcua"
        assert gap.gap_start <= stopped_at and gap.gap_end >= restarted_at
        assert "restarted" in gap.reason and grinder.url in gap.reason
        assert collector.stats.bad_quality == 0 and collector.stats.refused == 0
        assert layer.stats().refused == 0
        ledger.close()

    asyncio.run(scenario())


def test_conditions_and_alarms_come_from_the_same_subscription(tmp_path: Path) -> None:
    """Vibration over its threshold and the overload bit become alarms; windows hold metrics."""

    async def scenario() -> None:
        grinder = Grinder(free_port())
        await grinder.start()
        ledger = thread.open(str(tmp_path / "ledger.db"))
        tag_map = grinder_map(grinder.port)
        layer = MappingLayer(ledger, tag_map, protocol="opcua")
        collector = OpcUaCollector(tag_map, layer)
        stop = asyncio.Event()
        running = asyncio.create_task(collect(layer, collector.run, stop, write_every_s=0.2))
        await within(collector.wait_sessions(1))
        raised = grinder.tick()
        await grinder.write("overload", True, raised)
        over = grinder.tick()
        await grinder.write("vibration", 5.5, over)
        under = grinder.tick()
        await grinder.write("vibration", 1.5, under)
        cleared = grinder.tick()
        await grinder.write("overload", False, cleared)
        sent = len(NODES) + len(grinder.published)
        await until(lambda: collector.stats.values >= sent, "the readings to arrive")
        stop.set()
        await within(running)
        await grinder.stop()
        alarms = {a.code: a for a in facts_of(ledger, f.AlarmRaised)}
        assert (alarms["A-7"].raised_at, alarms["A-7"].cleared_at) == (raised, cleared)
        assert alarms["A-7"].text == "Spindle overload"
        assert (alarms["vibration-high"].raised_at, alarms["vibration-high"].cleared_at) == (
            over, under)
        windows = facts_of(ledger, f.ConditionRecorded)
        assert windows and {"A-7", "vibration-high"} <= set(windows[-1].alarms_active)
        vibration = {m.name: m for m in windows[-1].metrics}["vibration"]
        assert vibration.max == 5.5 and vibration.exceeded
        ledger.close()

    asyncio.run(scenario())


def test_a_unit_the_server_states_differently_stops_collection(tmp_path: Path) -> None:
    """EngineeringUnits that contradict the tag map are refused before anything is recorded."""

    async def scenario() -> None:
        grinder = Grinder(free_port())
        await grinder.start()
        ledger = thread.open(str(tmp_path / "ledger.db"))
        text_map = grinder_map(grinder.port, **{'unit = "Cel"': 'unit = "degF"'})
        layer = MappingLayer(ledger, text_map, protocol="opcua")
        collector = OpcUaCollector(text_map, layer)
        try:
            with pytest.raises(UnitMismatch) as raised:
                await within(collector.run(asyncio.Event()))
        finally:
            await grinder.stop()
        assert str(raised.value) == (
            "tag map 'grinder-1' (grinder-1.toml line 46): parameter 'spindle_temperature' "
            "is in Cel at the source (OPC UA EngineeringUnits of "
            "nsu=urn:test:grinder;s=Grinder1.Spindle.Temperature) but the tag map declares "
            "degF; correct the tag map or the source")
        assert facts_of(ledger, f.ProcessRecorded) == []
        ledger.close()

    asyncio.run(scenario())


def test_a_node_the_server_does_not_have_is_named_with_its_line(tmp_path: Path) -> None:
    """A mistyped node id is a configuration error pointing at the tag map line."""

    async def scenario() -> None:
        grinder = Grinder(free_port())
        await grinder.start()
        ledger = thread.open(str(tmp_path / "ledger.db"))
        tag_map = grinder_map(grinder.port, **{"Grinder1.Coolant.Pressure": "Grinder1.Coolant"})
        collector = OpcUaCollector(tag_map, MappingLayer(ledger, tag_map, protocol="opcua"))
        try:
            with pytest.raises(OpcUaError) as raised:
                await within(collector.run(asyncio.Event()))
        finally:
            await grinder.stop()
        message = str(raised.value)
        assert message.startswith("grinder-1.toml line 54, key 'tags.coolant_pressure.opcua."
                                  "node': ns=2;s=Grinder1.Coolant: the server refused")
        assert "BadNodeIdUnknown" in message
        ledger.close()

    asyncio.run(scenario())


def test_a_server_that_never_answers_is_a_gap_only_after_it_answered_once(
        tmp_path: Path) -> None:
    """Nothing to reach yet is retried quietly; losing it and stopping records the gap."""

    async def scenario() -> None:
        grinder = Grinder(free_port())
        ledger = thread.open(str(tmp_path / "ledger.db"))
        tag_map = grinder_map(grinder.port)
        layer = MappingLayer(ledger, tag_map, protocol="opcua")
        messages: list[str] = []
        collector = OpcUaCollector(tag_map, layer, on_status=messages.append)
        stop = asyncio.Event()
        running = asyncio.create_task(collect(layer, collector.run, stop, write_every_s=0.2))
        await until(lambda: collector.stats.reconnect_failures >= 2, "a failed attempt")
        assert facts_of(ledger, f.CollectionGapRecorded) == []
        await grinder.start()
        await within(collector.wait_sessions(1))
        await grinder.stop()
        await until(lambda: not collector.stats.connected, "the loss to be noticed")
        stop.set()
        await within(running)
        (gap,) = facts_of(ledger, f.CollectionGapRecorded)
        assert "not back before collection stopped" in gap.reason
        assert any("cannot reach" in text for text in messages)
        ledger.close()

    asyncio.run(scenario())


def test_connection_settings_are_validated_with_their_lines() -> None:
    """A bad endpoint or an unknown key in [connection.opcua] names the line."""
    with pytest.raises(TagMapError) as raised:
        OpcUaCollector(grinder_map(1, **{"publishing_interval_ms": "publishing_ms"}),
                       _NoSink())
    assert (raised.value.line, raised.value.key) == (9, "connection.opcua.publishing_ms")
    with pytest.raises(TagMapError, match=r"an 'endpoint' such as opc\.tcp://"):
        OpcUaCollector(grinder_map(1, **{'endpoint = "opc.tcp://127.0.0.1:1/grinder"\n': ""}),
                       _NoSink())
    collector = OpcUaCollector(grinder_map(1), _NoSink(), endpoint="opc.tcp://plc:4840/")
    assert collector.endpoint == "opc.tcp://plc:4840/"


class _NoSink:
    """Stands where a sink goes when a test never lets the collector read anything."""

    def observe(self, tag: str, value: Any, at_ns: int) -> None:
        raise AssertionError("no readings expected")

    def gap(self, start_ns: int, end_ns: int, reason: str, lost: int | None = None) -> None:
        raise AssertionError("no gaps expected")

    def flush(self) -> None:
        """Nothing buffered."""

    def observe_many(self, tag: str, values: Any, times_ns: Any) -> None:
        raise AssertionError("no readings expected")

    def heartbeat(self, at_ns: int) -> None:
        """Ignored."""

    def declare_unit(self, tag: str, unit: str, origin: str) -> None:
        """Ignored."""

    def write_ready(self) -> None:
        """Nothing to write."""

    def close(self) -> None:
        """Nothing to close."""


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_live_counts_are_drawn_only_on_a_terminal() -> None:
    """On a terminal the counts line is redrawn in place; in a pipe only messages appear."""
    terminal, pipe = _Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        console = Console(stream)
        console.show({"values": 1234, "parts": 2}, force=True)
        console.say("connection lost")
        console.close()
    assert "\r\x1b[Kvalues 1,234  parts 2" in terminal.getvalue()
    assert pipe.getvalue() == "connection lost\n"


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_the_command_flushes_what_it_holds_when_stopped(tmp_path: Path,
                                                        stop_signal: signal.Signals) -> None:
    """`thread collect opcua` runs until Ctrl-C or SIGTERM, then writes what it buffered."""
    database = tmp_path / "plant.db"
    map_file = tmp_path / "grinder-1.toml"

    async def scenario() -> None:
        grinder = Grinder(free_port())
        await grinder.start()
        map_file.write_text(GRINDER_MAP.replace("{port}", str(grinder.port)))
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "from thread.cli import main; main()",
            "--db", str(database), "collect", "opcua", "--map", str(map_file), "--json",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        assert process.stderr is not None and process.stdout is not None
        lines: list[str] = []
        try:
            while not any("subscribed to 8 tags" in line for line in lines):
                line = (await within(process.stderr.readline())).decode()
                assert line, f"the collector ended early: {''.join(lines)}"
                lines.append(line)
            await grinder.write("overload", True, grinder.tick())  # still active when stopped
            cycle = await grinder.grind("BRG-0100")
            ledger = thread.open(str(database))
            await until(lambda: len(facts_of(ledger, f.ProcessRecorded)) == 1,
                        "the process record to be written")
            assert facts_of(ledger, f.AlarmRaised) == []
            process.send_signal(stop_signal)
            out, err = await within(process.communicate())
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
            await grinder.stop()
        errors = "".join(lines) + err.decode()
        assert process.returncode == 0, errors
        assert "Traceback" not in errors and "\x1b[K" not in errors
        assert "stopped:" in errors and "1 process records" in errors
        check_records(ledger, grinder, [cycle])
        (alarm,) = facts_of(ledger, f.AlarmRaised)
        assert alarm.code == "A-7" and alarm.cleared_at is None
        assert facts_of(ledger, f.ConditionRecorded)
        assert '"process_records": 1' in out.decode()
        ledger.close()

    asyncio.run(scenario())


def test_the_command_refuses_a_bad_map_in_one_line(tmp_path: Path) -> None:
    """A tag-map error is one line on stderr and exit status 1, before connecting anywhere."""
    from click.testing import CliRunner

    from thread.cli import main

    map_file = tmp_path / "grinder-1.toml"
    map_file.write_text(GRINDER_MAP.replace("{port}", "1").replace('unit = "rpm"',
                                                                   'unit = "RPM!"'))
    result = CliRunner().invoke(main, ["--db", str(tmp_path / "x.db"), "collect", "opcua",
                                       "--map", str(map_file)])
    assert result.exit_code == 1
    assert "grinder-1.toml line 41, key 'tags.spindle_speed.unit'" in result.output
    assert not (tmp_path / "x.db").exists()


def test_the_example_grinder_map_is_ready_for_opc_ua() -> None:
    """The shipped example's OPC UA connection and node ids validate."""
    from thread_adapters.tagmap import load_tag_map

    example = Path(__file__).resolve().parents[2] / "examples" / "tagmaps" / "grinder.toml"
    collector = OpcUaCollector(load_tag_map(example), _NoSink())
    assert collector.endpoint == "opc.tcp://grinder-2.plant.local:4840/"
    assert collector.addresses["spindle_speed"] == "ns=2;s=Grinder2.Spindle.Speed"
    assert len(collector.addresses) == 11
