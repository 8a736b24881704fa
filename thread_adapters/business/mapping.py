"""The mapping file: which facts a business-system export's rows become, declared, not coded.

A mapping names the system (the ledger's ``source``), then one ``[[record]]``
table per kind of fact the rows become: the fact's topic, an optional
``when`` that picks the rows, where ``occurred_at`` and ``source_record_id``
come from, and each fact field's column (or template of columns) with
declarative transforms (a code table, a list separator, a decimal comma, a
time format and zone). Nothing in a mapping is evaluated as code.

The file is TOML or YAML. It is validated with pydantic against the fact
catalogue: an unknown topic, a field the fact does not have, a required field
left unmapped, a list field without a separator, a time without a zone are
refused when the mapping loads, each naming the file, the line and the key.
So is a topic the ledger only takes signed (a disposition, a release from
quarantine, a recall, a CAPA's closure, the signer registry's facts): an
export carries no electronic signature, so those are signed in the ledger by
the person who decides them, never imported.
"""

from __future__ import annotations

import functools
import string
import tomllib
import types
import typing
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from thread import facts as f
from thread.errors import LedgerError
from thread_adapters.business.locations import (
    KeyPath,
    dotted,
    line_of,
    toml_key_lines,
    yaml_key_lines,
)

#: Facts the ledger writes itself; an export never states them.
LEDGER_WRITTEN = frozenset({
    f.InstalledInto.topic, f.RemovedFrom.topic, f.SignatureApplied.topic,
    f.CorrectionRecorded.topic,
})
#: The time format that means ISO 8601 (``2026-03-02T06:00:00+01:00``, ``...Z``).
ISO = "iso"

#: How a fact field takes its value: a time, a list (of identifiers), nested records,
#: text (an identifier, a code, free text) or another plain value (a number, a flag).
Shape = Literal["time", "list", "nested", "text", "scalar"]
#: A value a mapping may state outright: a code's meaning or a constant.
Constant = str | bool | int | float | list[str]

_STRICT = ConfigDict(extra="forbid", frozen=True)


class MappingError(LedgerError):
    """A mapping file that cannot be used: names the file, and each bad key with its line."""

    def __init__(self, file: str, problems: list[tuple[int | None, str, str]]) -> None:
        self.file = file
        #: (line or None, dotted key, what is wrong), in file order.
        self.problems = sorted(problems, key=lambda problem: (problem[0] or 0, problem[1]))
        lines = [
            f"{file}" + (f" line {line}" if line else "") + f", key '{key}': {message}"
            for line, key, message in self.problems
        ]
        super().__init__("\n".join(lines))


def _column_shorthand(value: object) -> object:
    """``serial = "Serial No"`` is short for ``serial = { column = "Serial No" }``."""
    return {"column": value} if isinstance(value, str) else value


class ValueSpec(BaseModel):
    """Where one value comes from in a row, and how the raw text becomes the fact's value."""

    model_config = _STRICT

    column: Annotated[str, StringConstraints(min_length=1)] | None = None
    template: str | None = None
    codes: dict[str, Constant] | None = None
    other: Literal["error", "keep"] = "error"
    split: Annotated[str, StringConstraints(min_length=1)] | None = None
    decimal: Literal[".", ","] = "."
    format: str | None = None
    zone: str | None = None

    @model_validator(mode="after")
    def _one_origin(self) -> Self:
        if (self.column is None) == (self.template is None):
            raise _refusal("one_origin", "give exactly one of 'column' or 'template'")
        if self.template is not None:
            try:
                placeholders = list(string.Formatter().parse(self.template))
            except ValueError as error:
                raise _refusal("template", f"template {self.template!r} does not parse: "
                                           f"{error}") from None
            for _, name, spec, conversion in placeholders:
                if name is not None and (not name or spec or conversion):
                    raise _refusal("template", f"template {self.template!r}: write each "
                                               "column as {Column name}, with no format or "
                                               "conversion")
        if self.zone is not None:
            try:
                ZoneInfo(self.zone)
            except (ZoneInfoNotFoundError, ValueError):
                raise _refusal("zone", f"zone {self.zone!r} is not an IANA time zone such as "
                                       "'Europe/Berlin'") from None
        return self

    @property
    def columns(self) -> list[str]:
        """The row's columns this value reads."""
        if self.column is not None:
            return [self.column]
        return [name for _, name, _, _ in string.Formatter().parse(self.template or "")
                if name]

    def describe(self) -> str:
        """How an error message names where the value came from."""
        if self.column is not None:
            return f"column '{self.column}'"
        return f"template '{self.template}'"


Spec = Annotated[ValueSpec, BeforeValidator(_column_shorthand)]


class When(BaseModel):
    """Which rows a record kind takes: one column's value equals, is one of, or is filled."""

    model_config = _STRICT

    column: Annotated[str, StringConstraints(min_length=1)]
    equals: str | None = None
    one_of: list[str] | None = None
    filled: bool | None = None

    @model_validator(mode="after")
    def _one_test(self) -> Self:
        if sum(test is not None for test in (self.equals, self.one_of, self.filled)) != 1:
            raise _refusal("one_test", "give exactly one of 'equals', 'one_of' or 'filled'")
        return self

    def describe(self) -> str:
        """The condition as a reader says it."""
        if self.equals is not None:
            return f"{self.column} = {self.equals!r}"
        if self.one_of is not None:
            return f"{self.column} in {', '.join(map(repr, self.one_of))}"
        return f"{self.column} {'filled' if self.filled else 'blank'}"


class CsvDialect(BaseModel):
    """How the CSV export is written."""

    model_config = _STRICT

    delimiter: Annotated[str, StringConstraints(min_length=1, max_length=1)] = ","
    quote: Annotated[str, StringConstraints(min_length=1, max_length=1)] = '"'


class RecordKind(BaseModel):
    """One kind of fact the rows become."""

    model_config = _STRICT

    topic: str
    when: When | None = None
    occurred_at: Spec
    source_record_id: Spec
    actor: Spec | None = None
    fields: dict[str, Spec] = Field(default_factory=dict)
    constants: dict[str, Constant] = Field(default_factory=dict, validate_default=True)

    @field_validator("topic")
    @classmethod
    def _known_topic(cls, topic: str) -> str:
        if topic in LEDGER_WRITTEN:
            raise _refusal("ledger_written", f"topic {topic!r} is written by the ledger "
                                             "itself, never imported")
        if topic not in f.fact_classes():
            raise _refusal("unknown_topic", f"unknown topic {topic!r}; importable topics: "
                                            f"{', '.join(importable_topics())}")
        if f.fact_class(topic).needs_signature:
            raise _refusal("signed_topic", f"topic {topic!r} must be signed in the ledger by "
                                           "the person who decides it (21 CFR Part 11); an "
                                           "export carries no signature, so it is never "
                                           "imported: record it with ledger.record(fact, "
                                           "sign=signer)")
        return topic

    @field_validator("occurred_at")
    @classmethod
    def _zoned_time(cls, spec: ValueSpec) -> ValueSpec:
        if spec.format is None:
            spec = spec.model_copy(update={"format": ISO})
        if spec.zone is None and spec.format != ISO and "%z" not in (spec.format or ""):
            raise _refusal("zone_needed", f"format {spec.format!r} has no UTC offset (%z), so "
                                          "give the 'zone' the times are in, such as "
                                          "'Europe/Berlin' or 'UTC'")
        return spec

    @field_validator("fields", mode="wrap")
    @classmethod
    def _fields_fit(cls, raw: Any, handler: ValidatorFunctionWrapHandler,
                    info: ValidationInfo) -> dict[str, ValueSpec]:
        """Each mapped field exists on the fact and can be filled from a cell.

        Unknown names are found on the raw table, so they are reported
        together with any malformed entry beside them, not one run later.
        """
        fact = _fact_of(info)
        problems: list[tuple[KeyPath, str]] = []
        if fact is not None and isinstance(raw, dict):
            problems = [(("fields", name), _no_field(fact, name)) for name in raw
                        if name not in fact.model_fields]
        try:
            fields: dict[str, ValueSpec] = handler(raw)
        except ValidationError as error:
            if not problems:
                raise
            problems.extend((("fields", *item["loc"]), item["msg"])
                            for item in error.errors(include_url=False))
            _raise(problems)
            raise
        for name, spec in fields.items():
            if fact is None or name not in fact.model_fields:
                continue
            shape = field_shape(fact, name)
            if shape == "nested":
                problems.append((("fields", name), f"{fact.__name__}.{name} holds nested "
                                                   f"records, which one column cannot fill"))
            elif spec.split is not None and shape != "list":
                problems.append((("fields", name, "split"), f"{fact.__name__}.{name} is one "
                                                            f"value, not a list"))
            elif shape == "time":
                occurred_at = info.data.get("occurred_at")
                zone = spec.zone or (occurred_at.zone if occurred_at else None)
                form = spec.format or (occurred_at.format if occurred_at else ISO)
                if zone is None and form != ISO and "%z" not in (form or ""):
                    problems.append((("fields", name), f"format {form!r} has no UTC offset "
                                                       f"(%z), so give the 'zone'"))
        _raise(problems)
        return fields

    @field_validator("constants")
    @classmethod
    def _constants_fit(cls, constants: dict[str, Constant],
                       info: ValidationInfo) -> dict[str, Constant]:
        """Constants name fields of the fact; with the mapped fields they fill every required one.

        It runs even when no constants are given (``validate_default``), as
        the place that sees both the fields and the constants.
        """
        fact = _fact_of(info)
        if fact is None:
            return constants
        problems: list[tuple[KeyPath, str]] = [
            (("constants", name), _no_field(fact, name)) for name in constants
            if name not in fact.model_fields
        ]
        fields = info.data.get("fields")
        if fields is not None:
            problems.extend((("constants", name), f"{name!r} is mapped in fields too; give it "
                                                  f"one origin")
                            for name in fields.keys() & constants.keys())
            mapped = fields.keys() | constants.keys()
            problems.extend(
                (("fields",), f"{fact.__name__} needs field {name!r}: map it under "
                              f"[record.fields] or give it under [record.constants]")
                for name, field in fact.model_fields.items()
                if field.is_required() and name not in mapped
            )
            if issubclass(fact, f.PartFact) and not mapped & {"serial", "lot"}:
                problems.append((("fields",), f"{fact.__name__} needs 'serial' or 'lot': map "
                                              f"one of them to a column"))
        _raise(problems)
        return constants

    @property
    def fact(self) -> type[f.Fact]:
        """The fact class the rows become."""
        return f.fact_class(self.topic)

    def specs(self) -> list[tuple[KeyPath, ValueSpec]]:
        """Every value this record kind reads from a row, with its key in the mapping."""
        found: list[tuple[KeyPath, ValueSpec]] = [
            (("occurred_at",), self.occurred_at),
            (("source_record_id",), self.source_record_id),
        ]
        if self.actor is not None:
            found.append((("actor",), self.actor))
        found.extend((("fields", name), spec) for name, spec in self.fields.items())
        return found

    def time_spec(self, spec: ValueSpec) -> ValueSpec:
        """A time field's spec with the format and zone of ``occurred_at`` where it has none."""
        if spec.format is not None and spec.zone is not None:
            return spec
        return spec.model_copy(update={
            "format": spec.format or self.occurred_at.format,
            "zone": spec.zone or self.occurred_at.zone,
        })


class Mapping(BaseModel):
    """A whole mapping file: the system, how its export is written, and the record kinds."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    system: Annotated[str, StringConstraints(min_length=1, max_length=64,
                                             pattern=r"^[a-z0-9][a-z0-9._-]*$")]
    description: str | None = None
    encoding: str = "utf-8-sig"
    csv: CsvDialect = CsvDialect()
    unmatched: Literal["error", "ignore"] = "error"
    records: Annotated[list[RecordKind], Field(alias="record", min_length=1)]

    _file: str = PrivateAttr(default="(mapping)")
    _lines: dict[KeyPath, int] = PrivateAttr(default_factory=dict)

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, encoding: str) -> str:
        import codecs

        try:
            codecs.lookup(encoding)
        except LookupError:
            raise _refusal("encoding", f"unknown text encoding {encoding!r}") from None
        return encoding

    @property
    def file(self) -> str:
        """The mapping file's name as messages give it."""
        return self._file

    def line(self, path: KeyPath) -> int | None:
        """The line of a key in the mapping file, or of the nearest key that encloses it."""
        return line_of(self._lines, path)

    def where(self, path: KeyPath) -> str:
        """``erp.toml line 12`` for a key, as an error message points at it."""
        line = self.line(path)
        return self._file + (f" line {line}" if line else "") + f" ({dotted(path)})"

    def columns(self) -> list[tuple[str, KeyPath]]:
        """Every column the mapping reads, with the first key that reads it."""
        found: dict[str, KeyPath] = {}
        for index, record in enumerate(self.records):
            if record.when is not None:
                found.setdefault(record.when.column, ("record", index, "when", "column"))
            for path, spec in record.specs():
                for column in spec.columns:
                    found.setdefault(column, ("record", index, *path))
        return list(found.items())


def _refusal(kind: str, message: str) -> PydanticCustomError:
    """A validation error with a finished message (pydantic fills no placeholders in it)."""
    return PydanticCustomError(kind, message)


def _fact_of(info: ValidationInfo) -> type[f.Fact] | None:
    """The fact class of the record being validated, once its topic passed."""
    topic = info.data.get("topic")
    return f.fact_class(topic) if topic is not None else None


def _no_field(fact: type[f.Fact], name: str) -> str:
    return f"{fact.__name__} has no field {name!r}; its fields: {', '.join(fact.model_fields)}"


def _raise(problems: list[tuple[KeyPath, str]]) -> None:
    """All of a record's problems as one pydantic error, each with its key in the record.

    pydantic gives a validator one error at the key it validates; the keys
    carried here let :func:`parse_mapping` point at each bad key instead.
    """
    if problems:
        raise PydanticCustomError("mapping_problems", f"{len(problems)} problems",
                                  {"problems": problems})


def importable_topics() -> list[str]:
    """Topics an export's rows may become: neither written by the ledger nor signed."""
    return sorted(topic for topic, cls in f.fact_classes().items()
                  if topic not in LEDGER_WRITTEN and not cls.needs_signature)


@functools.cache
def field_shape(cls: type[f.Fact], name: str) -> Shape:
    """Whether a fact field takes a time, a list, nested records, text or another value."""
    annotation: Any = cls.model_fields[name].annotation
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            arms = [arm for arm in typing.get_args(annotation) if arm is not type(None)]
            annotation = arms[0]
        else:
            break
    if origin in (tuple, list):
        item = typing.get_args(annotation)[0]
        if typing.get_origin(item) is Annotated:
            item = typing.get_args(item)[0]
        return "nested" if isinstance(item, type) and issubclass(item, BaseModel) else "list"
    if origin is Literal:
        return "text"
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return "nested"
        if annotation is AwareDatetime or issubclass(annotation, datetime):
            return "time"
        if issubclass(annotation, str):
            return "text"
    return "scalar"


def load_mapping(path: str | Path) -> Mapping:
    """Read and validate a TOML (``.toml``) or YAML (``.yaml``, ``.yml``) mapping file."""
    path = Path(path)
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise MappingError(name, [(None, "(file)", f"cannot read it: {error.strerror}")]) from None
    return parse_mapping(text, name, kind="yaml" if path.suffix in (".yaml", ".yml") else "toml")


def parse_mapping(text: str, name: str, *, kind: Literal["toml", "yaml"] = "toml") -> Mapping:
    """Validate a mapping given as text; ``name`` is how errors name the file."""
    data: Any
    if kind == "yaml":
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            raise MappingError(name, [(line, "(file)", f"not valid YAML: {error}")]) from None
        lines = yaml_key_lines(text)
    else:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise MappingError(name, [(None, "(file)", f"not valid TOML: {error}")]) from None
        lines = toml_key_lines(text)
    if not isinstance(data, dict):
        raise MappingError(name, [(1, "(file)", "expected a table of keys at the top level")])
    try:
        mapping = Mapping.model_validate(data)
    except ValidationError as error:
        raise MappingError(name, _located(error, lines)) from None
    mapping._file = name
    mapping._lines = lines
    return mapping


def _located(error: ValidationError, lines: dict[KeyPath, int]) -> list[tuple[int | None, str,
                                                                                    str]]:
    """Each pydantic problem as (line, key, message), expanding a record's own problem list."""
    found: list[tuple[int | None, str, str]] = []
    for item in error.errors(include_url=False):
        loc: KeyPath = tuple(part for part in item["loc"] if not _is_union_arm(part))
        context = item.get("ctx") or {}
        if item["type"] == "mapping_problems":
            record = loc[:-1]  # raised by a validator of one of the record's keys
            for path, message in context["problems"]:
                full = (*record, *path)
                found.append((line_of(lines, full), dotted(full), message))
            continue
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "no such key here; check its spelling"
        elif item["type"] == "missing":
            message = "missing: this key is required"
        found.append((line_of(lines, loc), dotted(loc), message))
    return found


def _is_union_arm(part: str | int) -> bool:
    """pydantic names the type it tried inside a union (``str``, ``list[str]``); readers don't."""
    return isinstance(part, str) and (part in {"str", "bool", "int", "float"}
                                      or part.startswith(("list[", "function-")))
