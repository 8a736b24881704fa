"""Tag maps: one declarative file per machine that says what its PLC tags mean.

A tag map (TOML or YAML) names the machine, maps tags to process parameters
with units and resolutions, says how a part is tracked (a serial-number tag
with cycle start and cycle complete triggers, or a batch id), lists condition
tags (vibration, temperatures, alarm bits, counts for OEE) with thresholds,
and says how raw samples are kept. Every protocol collector reads the same
file: each tag carries an opaque section per protocol (``opcua.node``,
``sparkplug.metric``) and ``[connection.<protocol>]`` holds the endpoint or
broker settings; the collector validates its own sections with
:meth:`TagMap.parse`, so its errors name the file, line and key as well.

A minimal TOML map::

    [machine]
    id = "GRINDER-2"

    [part]
    operation = "OP20-grind"

    [tags.serial]
    kind = "serial"
    opcua.node = "ns=2;s=Grinder2.Serial"

    [tags.done]
    kind = "cycle-complete"
    opcua.node = "ns=2;s=Grinder2.CycleComplete"

    [tags.spindle_speed]
    unit = "rpm"
    resolution = 0.1
    opcua.node = "ns=2;s=Grinder2.Spindle.Speed"

See ``examples/tagmaps/grinder.toml`` for every section.
"""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from thread.domain.facts.base import Identifier, Text
from thread.domain.units import Unit
from thread.errors import ConfigurationError

M = TypeVar("M", bound=BaseModel)

#: What a tag is for.
TagKind = Literal[
    "parameter",       # a process parameter, summarised per part and operation
    "condition",       # a machine condition signal, summarised per time window
    "serial",          # the serial number of the part in the machine
    "batch",           # the batch (lot) id being run
    "cycle-start",     # trigger: a part's cycle started
    "cycle-complete",  # trigger: a part's cycle completed
    "alarm",           # an alarm bit
    "running",         # the machine is running (availability)
    "count-total",     # cumulative count of parts made (performance, quality)
    "count-good",      # cumulative count of good parts (quality)
]

_NUMERIC_KINDS = frozenset({"parameter", "condition"})
_Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
_STRICT = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class TagMapError(ConfigurationError):
    """A tag map is wrong: names the file, the line and the key of each problem."""

    def __init__(self, file: str, problems: list[tuple[int | None, str, str]]) -> None:
        self.file = file
        self.problems = problems
        line, key, _ = problems[0]
        self.line = line
        self.key = key
        super().__init__("; ".join(
            f"{file}{f' line {at}' if at is not None else ''}"
            f"{f', key {name!r}' if name else ''}: {what}"
            for at, name, what in problems
        ))


class MachineSection(BaseModel):
    """The machine the map describes, and whether the collector may register it."""

    model_config = _STRICT
    id: Identifier
    name: Text | None = None
    kind: Identifier | None = None
    site: Identifier | None = None
    line: Identifier | None = None
    #: Register the machine when the ledger does not know it yet.
    register_machine: bool = Field(False, alias="register")

    @model_validator(mode="after")
    def _registrable(self) -> Self:
        if self.register_machine and (self.name is None or self.kind is None):
            raise ValueError("a 'name' and a 'kind' for the machine, since register = true")
        return self


class PartSection(BaseModel):
    """How a part is tracked through the machine and which operation the machine performs."""

    model_config = _STRICT
    tracking: Literal["serial", "batch"] = "serial"
    operation: Identifier
    #: What to do with a serial (or batch) the ledger does not know: refuse its record
    #: ("never"), register it against a released revision, or register it undocumented.
    register_parts: Literal["never", "released", "undocumented"] = Field(
        "never", alias="register")
    part_number: Identifier | None = None
    revision: Identifier | None = None
    #: A parameter that did not change during the cycle still had a value: the last
    #: reading before the cycle started counts as a reading at the start.
    hold_value_at_start: bool = True

    @model_validator(mode="after")
    def _registrable(self) -> Self:
        if self.register_parts != "never" and (
                self.part_number is None or self.revision is None):
            raise ValueError(
                f"a 'part_number' and a 'revision' to register parts with, since "
                f"register = {self.register_parts!r}"
            )
        return self


class SamplesSection(BaseModel):
    """Whether and how raw samples are kept beside each parameter summary."""

    model_config = _STRICT
    keep: bool = True
    compression: Literal["none", "zlib", "lzma"] = "zlib"
    level: Annotated[int, Field(ge=0, le=9)] | None = None


class ConditionsSection(BaseModel):
    """Machine condition blocks: their window and what OEE is measured against."""

    model_config = _STRICT
    window_s: _Positive = 60.0
    #: The ideal cycle time, for the performance factor of OEE.
    ideal_cycle_s: _Positive | None = None


class CollectionSection(BaseModel):
    """How long to wait for late readings and how the collector writes."""

    model_config = _STRICT
    #: Source-time seconds to wait for other tags' readings after a cycle completes
    #: or a window ends, before writing what arrived.
    settle_s: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 2.0
    #: How often a collector writes finished records to the ledger.
    write_every_s: _Positive = 1.0
    #: Records written per ledger transaction at most.
    batch_records: Annotated[int, Field(ge=1, le=100_000)] = 500
    #: The ledger ``source`` of the records (default ``<protocol>:<machine id>``).
    source: Identifier | None = None
    #: The ledger ``actor`` of the records (default: the source).
    actor: Identifier | None = None


class Tag(BaseModel):
    """One PLC tag: what it means, its unit, and per protocol where to find it."""

    model_config = ConfigDict(frozen=True, extra="allow", allow_inf_nan=False)
    kind: TagKind = "parameter"
    #: The parameter or metric name in the ledger (default: the tag's key).
    name: Identifier | None = None
    unit: Unit | None = None
    #: Raw samples are rounded to a multiple of this (the sensor's resolution).
    resolution: _Positive | None = None
    #: Above this value the tag is in alarm (and a condition metric shows it exceeded).
    threshold: float | None = None
    #: A parameter that is also summarised in the machine's condition windows.
    condition: bool = False
    #: Keep this parameter's raw samples (default: [samples] keep).
    keep_samples: bool | None = None
    #: Which change of a trigger fires it: a rising edge, or any change (a counter).
    edge: Literal["rising", "change"] = "rising"
    #: For alarm and threshold alarms: the code, text and severity recorded.
    code: Identifier | None = None
    text: Text | None = None
    severity: Literal["info", "warning", "fault"] = "warning"

    def protocol(self, name: str) -> dict[str, Any] | None:
        """This tag's opaque section for a protocol (``opcua``, ``sparkplug``), if any."""
        extra = self.model_extra or {}
        section = extra.get(name)
        return section if isinstance(section, dict) else None


class _Document(BaseModel):
    model_config = _STRICT
    machine: MachineSection
    part: PartSection | None = None
    samples: SamplesSection = SamplesSection()
    conditions: ConditionsSection = ConditionsSection()
    collection: CollectionSection = CollectionSection()
    connection: dict[str, dict[str, Any]] = {}
    tags: dict[Identifier, Tag] = Field(min_length=1)


@dataclass(frozen=True)
class TagMap:
    """A validated tag map, with where each key was written so later errors can say so."""

    name: str
    file: str
    machine: MachineSection
    part: PartSection | None
    samples: SamplesSection
    conditions: ConditionsSection
    collection: CollectionSection
    connection: Mapping[str, Mapping[str, Any]]
    tags: Mapping[str, Tag]
    lines: Mapping[tuple[str, ...], int] = field(repr=False)

    def line_of(self, *path: str | int) -> int | None:
        """The line where ``path`` (or its nearest written parent) is set, if known."""
        return _line_of(self.lines, tuple(str(part) for part in path))

    def error(self, path: tuple[str | int, ...], message: str) -> TagMapError:
        """An error about this map's key ``path``, naming the file and the line."""
        return TagMapError(self.file, [(self.line_of(*path), _dotted(path), message)])

    def parse(self, model: type[M], *path: str) -> M:
        """Validate the section at ``path`` (such as ``connection.opcua``) into ``model``.

        Collectors describe their own sections this way, and their errors
        point at the file, line and key like every other tag-map error.
        """
        data: Any = self._raw_section(path)
        try:
            return model.model_validate(data)
        except ValidationError as error:
            raise _located(self.file, self.lines, error, path) from None

    def _raw_section(self, path: tuple[str, ...]) -> Any:
        if path[:1] == ("connection",) and len(path) == 2:
            return dict(self.connection.get(path[1], {}))
        if path[:1] == ("tags",) and len(path) == 3:
            return self.tags[path[1]].protocol(path[2]) or {}
        raise KeyError(f"no section {_dotted(path)} to parse")

    def tags_of(self, *kinds: TagKind) -> dict[str, Tag]:
        """The tags of the given kinds, by key, in file order."""
        return {key: tag for key, tag in self.tags.items() if tag.kind in kinds}

    def parameter_name(self, key: str) -> str:
        """The name a tag's readings are recorded under."""
        return self.tags[key].name or key

    def incoming_names(self, protocol: str) -> dict[str, str]:
        """Names a protocol adapter may use for each tag, mapped to the tag's key.

        A tag is known by its key and by every text in its section for that
        protocol (``sparkplug.metric = "Spindle/Speed"``); when the protocol's
        connection names a ``device``, also as ``<device>/<text>``.
        """
        device = self.connection.get(protocol, {}).get("device")
        names: dict[str, str] = {}
        for key, tag in self.tags.items():
            names[key] = key
            for value in (tag.protocol(protocol) or {}).values():
                if isinstance(value, str):
                    names.setdefault(value, key)
                    if isinstance(device, str):
                        names.setdefault(f"{device}/{value}", key)
        return names


# Loading


def load_tag_map(path: str | Path) -> TagMap:
    """Read and validate a tag map file (``.toml``, ``.yaml`` or ``.yml``)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise TagMapError(str(file), [(None, "", f"cannot read the tag map: "
                                       f"{error.strerror or error}")]) from None
    except UnicodeDecodeError as error:
        raise TagMapError(str(file), [(None, "", f"not UTF-8 text: {error}")]) from None
    suffix = file.suffix.lower()
    if suffix == ".toml":
        return parse_tag_map(text, file=str(file), format="toml")
    if suffix in (".yaml", ".yml"):
        return parse_tag_map(text, file=str(file), format="yaml")
    raise TagMapError(str(file), [(None, "", "a tag map is a .toml, .yaml or .yml file")])


def parse_tag_map(text: str, *, file: str = "<tag map>",
                  format: Literal["toml", "yaml"] = "toml") -> TagMap:
    """Validate tag-map text; ``file`` is how errors name it."""
    data, lines = _read_toml(text, file) if format == "toml" else _read_yaml(text, file)
    if not isinstance(data, dict):
        raise TagMapError(file, [(1, "", "a tag map is a table of sections such as "
                                  "[machine] and [tags.NAME]")])
    problems = _unknown_tag_keys(data, lines)
    try:
        document = _Document.model_validate(data)
    except ValidationError as error:
        problems += _located(file, lines, error, ()).problems
    if problems:
        raise TagMapError(file, problems)
    name = Path(file).stem if file != "<tag map>" else document.machine.id
    tag_map = TagMap(
        name=name, file=file, machine=document.machine, part=document.part,
        samples=document.samples, conditions=document.conditions,
        collection=document.collection, connection=document.connection,
        tags=document.tags, lines=lines,
    )
    _check_roles(tag_map)
    return tag_map


def _unknown_tag_keys(data: dict[str, Any], lines: Mapping[tuple[str, ...], int],
                      ) -> list[tuple[int | None, str, str]]:
    """Unknown plain keys in a tag are typos; only tables (protocol sections) may be added."""
    tags = data.get("tags")
    if not isinstance(tags, dict):
        return []
    known = set(Tag.model_fields)
    problems: list[tuple[int | None, str, str]] = []
    for key, tag in tags.items():
        if not isinstance(tag, dict):
            continue
        for name, value in tag.items():
            if name not in known and not isinstance(value, dict):
                path = ("tags", str(key), str(name))
                problems.append((_line_of(lines, path), _dotted(path),
                                 f"a tag has no key {name!r} (known: {', '.join(sorted(known))}; "
                                 f"protocol sections are tables such as opcua.node)"))
    return problems


def _check_roles(tag_map: TagMap) -> None:
    """Rules across tags: one serial, triggers for the tracking, units on numbers."""
    problems: list[tuple[int | None, str, str]] = []

    def problem(path: tuple[str, ...], message: str) -> None:
        problems.append((tag_map.line_of(*path), _dotted(path), message))

    names: dict[str, str] = {}
    for key, tag in tag_map.tags.items():
        numeric = tag.kind in _NUMERIC_KINDS
        if numeric and tag.unit is None:
            problem(("tags", key), f"a 'unit' for {tag.kind} tag {key!r}")
        for option in ("unit", "resolution", "threshold"):
            if not numeric and getattr(tag, option) is not None:
                problem(("tags", key, option),
                        f"{option!r} is for parameter and condition tags, not a {tag.kind} tag")
        if tag.condition and tag.kind != "parameter":
            problem(("tags", key, "condition"), "'condition' marks a parameter that is also a "
                    "condition metric; a condition tag is one already")
        if tag.kind in _NUMERIC_KINDS:
            name = tag_map.parameter_name(key)
            if name in names:
                problem(("tags", key), f"tags {names[name]!r} and {key!r} are both recorded as "
                        f"{name!r}; give one a different 'name'")
            names[name] = key
    counts: Counter[str] = Counter(tag.kind for tag in tag_map.tags.values())
    singles: tuple[TagKind, ...] = ("serial", "batch", "cycle-start", "cycle-complete",
                                    "running", "count-total", "count-good")
    for kind in singles:
        if counts[kind] > 1:
            first, second, *_ = tag_map.tags_of(kind)
            problem(("tags", second, "kind"), f"one {kind} tag per machine (also {first!r})")
    part = tag_map.part
    if part is None:
        if counts["parameter"]:
            problem(("tags",), "a [part] section saying how parts are tracked, since the map "
                    "has parameter tags")
    elif part.tracking == "serial":
        for kind in ("serial", "cycle-complete"):
            if not counts[kind]:
                problem(("part", "tracking"), f"a tag of kind {kind!r} for serial tracking")
    elif not counts["batch"]:
        problem(("part", "tracking"), "a tag of kind 'batch' for batch tracking")
    if counts["count-good"] and not counts["count-total"]:
        problem(("tags",), "a 'count-total' tag beside the 'count-good' one (quality is good "
                "parts over all parts)")
    if problems:
        raise TagMapError(tag_map.file, problems)


# Where keys are written


def _line_of(lines: Mapping[tuple[str, ...], int], path: tuple[str, ...]) -> int | None:
    """The key's own line, else the first line inside it, else its nearest parent's."""
    for end in range(len(path), 0, -1):
        prefix = path[:end]
        line = lines.get(prefix)
        if line is None:
            inside = [at for key, at in lines.items() if key[:end] == prefix]
            line = min(inside) if inside else None
        if line is not None:
            return line
    return None


def _dotted(path: tuple[str | int, ...]) -> str:
    return ".".join(str(part) for part in path)


def _located(file: str, lines: Mapping[tuple[str, ...], int], error: ValidationError,
             prefix: tuple[str, ...]) -> TagMapError:
    problems: list[tuple[int | None, str, str]] = []
    for item in error.errors(include_url=False):
        path = prefix + tuple(str(part) for part in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "missing":
            message = "this key is required"
        elif item["type"] == "extra_forbidden":
            message = "no such key here"
        elif message.startswith("Input should be"):
            message = "expected " + message.removeprefix("Input should be ")
            message += f" (got {item.get('input')!r})"
        elif not message.startswith("a "):
            message = f"{message} (got {item.get('input')!r})"
        else:
            message = f"expected {message}"
        problems.append((_line_of(lines, path), _dotted(path), message))
    return TagMapError(file, problems)


def _read_toml(text: str, file: str) -> tuple[Any, dict[tuple[str, ...], int]]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        found = re.search(r"at line (\d+)", str(error))
        line = int(found.group(1)) if found else None
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(error))
        raise TagMapError(file, [(line, "", f"not valid TOML: {reason}")]) from None
    return data, _toml_lines(text)


def _toml_lines(text: str) -> dict[tuple[str, ...], int]:
    """Where each key is written, from the text (tomllib keeps no positions).

    Good enough for error messages: table headers, ``dotted.key = value``
    lines and the keys of one-line inline tables.
    """
    lines: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _strip_comment(raw).strip()
        if not line:
            continue
        header = re.fullmatch(r"\[\[?\s*(.+?)\s*\]\]?", line)
        if header and "=" not in line.split("]")[0]:
            table = _key_path(header.group(1))
            lines.setdefault(table, number)
            continue
        key, equals, value = line.partition("=")
        if not equals or not key.strip():
            continue
        try:
            path = table + _key_path(key)
        except ValueError:
            continue
        lines.setdefault(path, number)
        value = value.strip()
        if value.startswith("{") and value.endswith("}"):
            for inner in _split_outside_quotes(value[1:-1], ","):
                inner_key, inner_equals, _ = inner.partition("=")
                if inner_equals:
                    try:
                        lines.setdefault(path + _key_path(inner_key), number)
                    except ValueError:
                        continue
    return lines


def _strip_comment(line: str) -> str:
    quote = ""
    for index, character in enumerate(line):
        if quote:
            if character == quote:
                quote = ""
        elif character in "\"'":
            quote = character
        elif character == "#":
            return line[:index]
    return line


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    parts, quote, start = [], "", 0
    for index, character in enumerate(text):
        if quote:
            if character == quote:
                quote = ""
        elif character in "\"'":
            quote = character
        elif character == separator:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return parts


def _key_path(key: str) -> tuple[str, ...]:
    path = []
    for part in _split_outside_quotes(key.strip(), "."):
        part = part.strip()
        if len(part) >= 2 and part[0] == part[-1] and part[0] in "\"'":
            part = part[1:-1]
        elif not re.fullmatch(r"[A-Za-z0-9_-]+", part):
            raise ValueError(part)
        path.append(part)
    return tuple(path)


def _read_yaml(text: str, file: str) -> tuple[Any, dict[tuple[str, ...], int]]:
    import yaml

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(error, "problem", None) or str(error)
        raise TagMapError(file, [(line, "", f"not valid YAML: {reason}")]) from None
    lines: dict[tuple[str, ...], int] = {}
    if root is not None:
        _yaml_lines(root, (), lines)
    return data, lines


def _yaml_lines(node: Any, path: tuple[str, ...], lines: dict[tuple[str, ...], int]) -> None:
    import yaml

    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = (*path, str(key_node.value))
            lines.setdefault(child, key_node.start_mark.line + 1)
            _yaml_lines(value_node, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, str(index))
            lines.setdefault(child, item.start_mark.line + 1)
            _yaml_lines(item, child, lines)
