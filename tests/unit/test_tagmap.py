"""Tag maps: TOML and YAML files validated, with errors that name the file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

import thread
from thread_adapters.tagmap import TagMapError, load_tag_map, parse_tag_map

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tagmaps" / "grinder.toml"

MINIMAL = """\
[machine]
id = "PRESS-7"

[part]
operation = "OP10-mould"

[tags.serial]
kind = "serial"

[tags.done]
kind = "cycle-complete"

[tags.barrel_temp]
unit = "Cel"
resolution = 0.1
"""

YAML_MAP = """\
machine:
  id: PRESS-7
part:
  operation: OP10-mould
tags:
  serial:
    kind: serial
    sparkplug: {metric: Part/Serial}
  done:
    kind: cycle-complete
  barrel_temp:
    unit: Cel
    resolution: 0.1
    sparkplug:
      metric: Barrel/Temp
"""


def test_the_example_grinder_map_loads_with_every_section() -> None:
    """The shipped example is valid: machine, connections, tracking, parameters, conditions."""
    tag_map = load_tag_map(EXAMPLE)
    assert tag_map.name == "grinder"
    assert tag_map.machine.id == "GRINDER-2" and tag_map.machine.register_machine
    assert tag_map.part is not None and tag_map.part.tracking == "serial"
    assert tag_map.parameter_name("infeed") == "infeed_rate"
    assert set(tag_map.tags_of("parameter")) == {"spindle_speed", "infeed", "coolant_temperature"}
    assert tag_map.tags["spindle_vibration"].threshold == 4.5
    assert tag_map.connection["opcua"]["endpoint"].startswith("opc.tcp://")
    assert tag_map.tags["spindle_speed"].protocol("opcua") == {
        "node": "ns=2;s=Grinder2.Spindle.Speed"}


def test_protocol_names_resolve_to_tag_keys() -> None:
    """A Sparkplug metric is known by its name and by its device-scoped name."""
    names = load_tag_map(EXAMPLE).incoming_names("sparkplug")
    assert names["Spindle/Speed"] == "spindle_speed"
    assert names["Grinder2/Spindle/Speed"] == "spindle_speed"
    assert names["spindle_speed"] == "spindle_speed"


def test_unknown_unit_names_file_line_and_key(tmp_path: Path) -> None:
    """A unit code the ledger does not know is refused where it is written."""
    path = tmp_path / "press-7.toml"
    path.write_text(MINIMAL.replace('unit = "Cel"', 'unit = "degC"'))
    with pytest.raises(TagMapError) as raised:
        load_tag_map(path)
    error = raised.value
    assert (error.file, error.line, error.key) == (str(path), 14, "tags.barrel_temp.unit")
    assert f"{path} line 14, key 'tags.barrel_temp.unit'" in str(error)
    assert "'degC'" in str(error) and "Cel" in str(error)
    assert isinstance(error, thread.ConfigurationError)


def test_a_typo_in_a_tag_key_is_refused_but_protocol_tables_pass() -> None:
    """A misspelt key is an error; an unknown table is an opaque protocol section."""
    text = MINIMAL + 'resolutoin = 0.2\nmodbus.register = 40001\n'
    with pytest.raises(TagMapError) as raised:
        parse_tag_map(text, file="press-7.toml")
    assert raised.value.line == 16
    assert raised.value.key == "tags.barrel_temp.resolutoin"
    tag_map = parse_tag_map(MINIMAL + "modbus.register = 40001\n", file="press-7.toml")
    assert tag_map.tags["barrel_temp"].protocol("modbus") == {"register": 40001}


def test_every_problem_is_listed_with_its_own_line() -> None:
    """Several mistakes are reported together, each where it is."""
    text = MINIMAL.replace('operation = "OP10-mould"', 'operation = "OP10-mould"\nregister = "yes"')
    text = text.replace("resolution = 0.1", "resolution = 0")
    with pytest.raises(TagMapError) as raised:
        parse_tag_map(text, file="press-7.toml")
    where = {(line, key) for line, key, _ in raised.value.problems}
    assert where == {(6, "part.register"), (16, "tags.barrel_temp.resolution")}
    assert "'never', 'released' or 'undocumented'" in str(raised.value)


def test_missing_required_keys_are_named() -> None:
    """A machine without an id, or a map without tags, says which key is missing."""
    with pytest.raises(TagMapError) as raised:
        parse_tag_map('[machine]\nname = "Press"\n[tags.x]\nkind = "alarm"\n', file="m.toml")
    assert raised.value.problems[0][:2] == (1, "machine.id")
    assert "required" in str(raised.value)


def test_tracking_needs_its_tags() -> None:
    """Serial tracking needs a serial tag and a cycle-complete trigger; batch needs a batch tag."""
    text = MINIMAL.replace('[tags.done]\nkind = "cycle-complete"\n', "")
    with pytest.raises(TagMapError, match="a tag of kind 'cycle-complete' for serial tracking"):
        parse_tag_map(text, file="m.toml")
    text = MINIMAL.replace('operation = "OP10-mould"', 'operation = "OP10-mould"\n'
                           'tracking = "batch"')
    with pytest.raises(TagMapError) as raised:
        parse_tag_map(text, file="m.toml")
    assert raised.value.key == "part.tracking" and raised.value.line == 6


def test_one_serial_tag_per_machine() -> None:
    """Two serial tags would make the part ambiguous."""
    text = MINIMAL + '\n[tags.serial2]\nkind = "serial"\n'
    with pytest.raises(TagMapError) as raised:
        parse_tag_map(text, file="m.toml")
    assert (raised.value.line, raised.value.key) == (18, "tags.serial2.kind")


def test_units_belong_to_numeric_tags_only() -> None:
    """A unit on an alarm bit is a mistake; a parameter without a unit is one too."""
    text = MINIMAL + '\n[tags.door]\nkind = "alarm"\nunit = "mm"\n\n[tags.feed]\nresolution = 1\n'
    with pytest.raises(TagMapError) as raised:
        parse_tag_map(text, file="m.toml")
    problems = {key: line for line, key, _ in raised.value.problems}
    assert problems == {"tags.door.unit": 19, "tags.feed": 21}


def test_two_tags_recorded_under_one_name_are_refused() -> None:
    """Each parameter name appears once per process record."""
    text = MINIMAL + '\n[tags.barrel_temp_2]\nname = "barrel_temp"\nunit = "Cel"\n'
    with pytest.raises(TagMapError, match="both recorded as 'barrel_temp'"):
        parse_tag_map(text, file="m.toml")


def test_registration_needs_what_to_register() -> None:
    """Registering unknown machines or parts needs their name and kind, part number, revision."""
    text = MINIMAL.replace('id = "PRESS-7"', 'id = "PRESS-7"\nregister = true')
    with pytest.raises(TagMapError) as raised:
        parse_tag_map(text, file="m.toml")
    assert raised.value.key == "machine"
    assert "a 'name' and a 'kind'" in str(raised.value)


def test_inline_tables_and_quoted_keys_are_located() -> None:
    """Keys inside a one-line inline table and quoted keys still get their line."""
    text = MINIMAL + 'opcua = { node = "ns=2;s=T", sampling = "fast" }\n'
    tag_map = parse_tag_map(text, file="m.toml")
    assert tag_map.line_of("tags", "barrel_temp", "opcua", "sampling") == 16
    text = MINIMAL.replace("[tags.barrel_temp]", '[tags."barrel_temp"]').replace(
        'unit = "Cel"', 'unit = "F"')
    with pytest.raises(TagMapError) as raised:
        parse_tag_map(text, file="m.toml")
    assert raised.value.line == 14


def test_toml_syntax_errors_give_the_line() -> None:
    """A broken file is reported with tomllib's line."""
    with pytest.raises(TagMapError) as raised:
        parse_tag_map(MINIMAL.replace("[tags.done]", "[tags.done"), file="m.toml")
    assert raised.value.line == 10
    assert "not valid TOML" in str(raised.value)


def test_yaml_maps_are_equivalent_and_located_by_their_marks(tmp_path: Path) -> None:
    """YAML gives the same map, and errors carry the line from PyYAML's marks."""
    path = tmp_path / "press-7.yaml"
    path.write_text(YAML_MAP)
    tag_map = load_tag_map(path)
    assert tag_map.name == "press-7"
    assert tag_map.incoming_names("sparkplug")["Barrel/Temp"] == "barrel_temp"
    path.write_text(YAML_MAP.replace("unit: Cel", "unit: degC"))
    with pytest.raises(TagMapError) as raised:
        load_tag_map(path)
    assert (raised.value.line, raised.value.key) == (12, "tags.barrel_temp.unit")
    path.write_text(YAML_MAP.replace("  done:\n", "  done:\n   - x\n  y: [\n"))
    with pytest.raises(TagMapError, match="not valid YAML"):
        load_tag_map(path)


def test_unreadable_and_unknown_files_are_refused(tmp_path: Path) -> None:
    """A missing file or a file of another format is a clear error, not a traceback."""
    with pytest.raises(TagMapError, match="cannot read the tag map"):
        load_tag_map(tmp_path / "absent.toml")
    other = tmp_path / "map.json"
    other.write_text("{}")
    with pytest.raises(TagMapError, match=r"\.toml, \.yaml or \.yml"):
        load_tag_map(other)


class _Endpoint(BaseModel):
    model_config = ConfigDict(extra="forbid")
    endpoint: str
    publishing_interval_ms: float = 100


def test_collectors_validate_their_own_sections_with_located_errors() -> None:
    """A protocol's connection section is validated by its collector, errors still located."""
    text = MINIMAL + '\n[connection.opcua]\nendpoint = "opc.tcp://x"\npublishing_interval = 5\n'
    tag_map = parse_tag_map(text, file="press-7.toml")
    with pytest.raises(TagMapError) as raised:
        tag_map.parse(_Endpoint, "connection", "opcua")
    assert (raised.value.line, raised.value.key) == (
        19, "connection.opcua.publishing_interval")
    with pytest.raises(TagMapError) as raised:
        tag_map.parse(_Endpoint, "connection", "sparkplug")
    assert raised.value.key == "connection.sparkplug.endpoint"
    assert tag_map.error(("tags", "barrel_temp"), "no node").line == 13
