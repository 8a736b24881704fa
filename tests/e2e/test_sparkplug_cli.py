"""``thread collect sparkplug``: the tag map's Sparkplug sections and how the command reports."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from thread.cli import main
from thread_adapters.sparkplug import SparkplugError
from thread_adapters.sparkplug.config import collector_for, connection_of
from thread_adapters.tagmap import TagMapError, parse_tag_map

MAP = """\
[machine]
id = "PRESS-7"

[connection.sparkplug]
host = "127.0.0.1"
port = {port}
group = "{group}"
edge_node = "press-7"
device = "Press"

[part]
operation = "OP10-press"

[tags.serial]
kind = "serial"
sparkplug.metric = "Part/Serial"

[tags.done]
kind = "cycle-complete"
sparkplug.metric = "Cycle/Complete"

[tags.force]
unit = "kN"
sparkplug.metric = "Ram/Force"
"""


def collect(tmp_path: Path, text: str, *args: str) -> Result:
    """Run the command on a map with ``text`` against a ledger in ``tmp_path``."""
    tag_map = tmp_path / "press.toml"
    tag_map.write_text(text, encoding="utf-8")
    return CliRunner().invoke(main, ["--db", str(tmp_path / "ledger.db"), "collect",
                                     "sparkplug", "--map", str(tag_map), *args])


def test_connection_section_is_read_from_the_map() -> None:
    """The [connection.sparkplug] section gives broker, group, edge node and device."""
    connection = connection_of(parse_tag_map(MAP.format(port=1884, group="Plant1")))
    assert (connection.host, connection.port, connection.group, connection.edge_node,
            connection.device, connection.host_id) == (
        "127.0.0.1", 1884, "Plant1", "press-7", "Press", "thread-ledger")


def test_device_metrics_resolve_through_the_map() -> None:
    """The session's DEVICE/NAME tag names are names the tag map knows."""
    tag_map = parse_tag_map(MAP.format(port=1883, group="Plant1"))
    names = tag_map.incoming_names("sparkplug")
    assert (names["Press/Ram/Force"], names["Ram/Force"]) == ("force", "force")


def test_map_without_a_sparkplug_connection_is_refused(tmp_path: Path) -> None:
    """A map with no [connection.sparkplug] says which section to add, and exits 1."""
    text = MAP.format(port=1883, group="g").replace("[connection.sparkplug]", "[connection.x]")
    result = collect(tmp_path, text)
    assert result.exit_code == 1
    assert "press.toml" in result.output
    assert "a [connection.sparkplug] section with the broker host, group and edge_node" in (
        result.output)


def test_a_group_with_a_wildcard_is_refused_with_its_line() -> None:
    """A group id that cannot be a topic level names the file's line and key."""
    with pytest.raises(TagMapError) as refused:
        connection_of(parse_tag_map(MAP.format(port=1883, group="Plant/1"), file="press.toml"))
    assert refused.value.problems[0][:2] == (7, "connection.sparkplug.group")


def test_a_misspelt_tag_section_is_refused_with_its_line() -> None:
    """A tag's sparkplug section accepts 'metric' only, and the error points at the line."""
    text = MAP.format(port=1883, group="g").replace('sparkplug.metric = "Ram/Force"',
                                                    'sparkplug.metrik = "Ram/Force"')
    with pytest.raises(TagMapError, match=r"line 24, key 'tags\.force\.sparkplug\.metrik'"):
        connection_of(parse_tag_map(text, file="press.toml"))


def test_password_env_that_is_not_set_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A password variable that is not set is named in the error, before connecting."""
    monkeypatch.delenv("PRESS_MQTT_PASSWORD", raising=False)
    text = MAP.format(port=1883, group="g").replace(
        'device = "Press"', 'device = "Press"\nusername = "ledger"\n'
                            'password_env = "PRESS_MQTT_PASSWORD"')
    with pytest.raises(SparkplugError, match="'PRESS_MQTT_PASSWORD', but that environment"):
        collector_for(parse_tag_map(text), sink=None)  # type: ignore[arg-type]
