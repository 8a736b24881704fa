"""Sparkplug B payloads: the protobuf schema, built here, and decoding to plain dataclasses.

The schema is the public Sparkplug B ``Payload`` message (Eclipse Sparkplug
specification 3.0, ``sparkplug_b.proto``), assembled field by field with
``descriptor_pb2`` in a private descriptor pool, so no generated code is
shipped and nothing collides with another library's copy of the schema in the
default pool. Only what a collector reads is declared: the payload's
timestamp, seq, uuid and body, and each metric's name, alias, timestamp,
datatype, flags and scalar or bytes value. DataSet, Template, PropertySet and
metadata fields are left undeclared; protobuf skips them as unknown fields,
and such a metric decodes with no value.

Values are decoded with the datatype's meaning, not the wire field's:
signed integers travel as unsigned two's complement, some encoders widen them
to 32 or 64 bits first and some put 32-bit values in ``long_value``, so an
integer is read from whichever integer field is present and then reduced to
the datatype's width. DateTime is milliseconds since the Unix epoch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Any

# The project's type checking has no protobuf stubs; these modules are typed Any here.
from google.protobuf import (  # type: ignore[import-untyped, unused-ignore]
    descriptor_pb2,
    descriptor_pool,
    message_factory,
)
from google.protobuf.message import DecodeError  # type: ignore[import-untyped, unused-ignore]

from thread_adapters.sparkplug.errors import PayloadError

#: A metric value as it travels in the protobuf ``value`` oneof.
RawValue = int | float | bool | str | bytes | None

#: A scalar metric value decoded with its datatype's meaning.
MetricValue = int | float | bool | str | datetime

#: The epoch Sparkplug timestamps count milliseconds from.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class DataType(IntEnum):
    """Sparkplug B metric datatypes, with the specification's codes."""

    UNKNOWN = 0
    INT8 = 1
    INT16 = 2
    INT32 = 3
    INT64 = 4
    UINT8 = 5
    UINT16 = 6
    UINT32 = 7
    UINT64 = 8
    FLOAT = 9
    DOUBLE = 10
    BOOLEAN = 11
    STRING = 12
    DATETIME = 13
    TEXT = 14
    UUID = 15
    DATASET = 16
    BYTES = 17
    FILE = 18
    TEMPLATE = 19
    PROPERTYSET = 20
    PROPERTYSETLIST = 21
    INT8_ARRAY = 22
    INT16_ARRAY = 23
    INT32_ARRAY = 24
    INT64_ARRAY = 25
    UINT8_ARRAY = 26
    UINT16_ARRAY = 27
    UINT32_ARRAY = 28
    UINT64_ARRAY = 29
    FLOAT_ARRAY = 30
    DOUBLE_ARRAY = 31
    BOOLEAN_ARRAY = 32
    STRING_ARRAY = 33
    DATETIME_ARRAY = 34


_SIGNED_BITS = {DataType.INT8: 8, DataType.INT16: 16, DataType.INT32: 32, DataType.INT64: 64}
_UNSIGNED_BITS = {DataType.UINT8: 8, DataType.UINT16: 16, DataType.UINT32: 32,
                  DataType.UINT64: 64}
_TEXTS = frozenset({DataType.STRING, DataType.TEXT, DataType.UUID})

#: The datatypes this adapter turns into readings; the others are counted and skipped.
SCALAR_TYPES = frozenset({*_SIGNED_BITS, *_UNSIGNED_BITS, DataType.FLOAT, DataType.DOUBLE,
                          DataType.BOOLEAN, DataType.DATETIME, *_TEXTS})


#: Datatype names as the specification spells them, by code.
_NAMES = ("Unknown", "Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64",
          "Float", "Double", "Boolean", "String", "DateTime", "Text", "UUID", "DataSet", "Bytes",
          "File", "Template", "PropertySet", "PropertySetList", "Int8Array", "Int16Array",
          "Int32Array", "Int64Array", "UInt8Array", "UInt16Array", "UInt32Array", "UInt64Array",
          "FloatArray", "DoubleArray", "BooleanArray", "StringArray", "DateTimeArray")


def datatype_name(code: int) -> str:
    """The datatype's name as the specification spells it (``UInt16``), or its code."""
    return _NAMES[code] if 0 <= code < len(_NAMES) else f"datatype {code}"


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric of a payload, as sent: a name or an alias, and a value not yet typed.

    ``datatype`` is ``DataType.UNKNOWN`` (0) when the sender left it out, which
    data messages may do: the birth certificate then says what it is.
    """

    name: str | None
    alias: int | None
    timestamp: int | None
    datatype: int
    raw: RawValue
    is_historical: bool = False
    is_transient: bool = False
    is_null: bool = False

    @property
    def label(self) -> str:
        """How a message names this metric: its name, else its alias."""
        if self.name is not None:
            return repr(self.name)
        return f"alias {self.alias}"

    def value(self, datatype: int | None = None) -> MetricValue | None:
        """The value decoded as ``datatype`` (default: the metric's own); None when null."""
        if self.is_null:
            return None
        return decode_value(self.datatype if datatype is None else datatype, self.raw,
                            metric=self.label)


@dataclass(frozen=True, slots=True)
class Payload:
    """A decoded Sparkplug B payload. Times are milliseconds since the Unix epoch."""

    timestamp: int | None
    seq: int | None
    metrics: tuple[Metric, ...]
    uuid: str | None = None
    body: bytes | None = None

    def metric(self, name: str) -> Metric | None:
        """The first metric sent under ``name``, if any."""
        for metric in self.metrics:
            if metric.name == name:
                return metric
        return None


def decode_value(datatype: int, raw: RawValue, *, metric: str = "metric") -> MetricValue:
    """Decode one scalar value with the meaning of ``datatype``; PayloadError if it does not fit."""
    kind = datatype_name(datatype)
    if raw is None:
        raise PayloadError(f"metric {metric} is declared {kind} but carries no value "
                           "and is not marked null")
    if datatype in _SIGNED_BITS or datatype in _UNSIGNED_BITS or datatype == DataType.DATETIME:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise _mismatch(metric, kind, raw)
        if datatype == DataType.DATETIME:
            return EPOCH + timedelta(milliseconds=raw)
        if datatype in _SIGNED_BITS:
            bits = _SIGNED_BITS[DataType(datatype)]
            # Encoders differ in how far they sign-extend before the unsigned wire
            # field; the datatype's own width is what the PLC meant.
            unsigned = raw & ((1 << bits) - 1)
            return unsigned - (1 << bits) if unsigned >> (bits - 1) else unsigned
        bits = _UNSIGNED_BITS[DataType(datatype)]
        if raw >> bits:
            raise PayloadError(f"metric {metric} is declared {kind} but carries {raw}, "
                               f"outside 0..{(1 << bits) - 1}")
        return raw
    if datatype in (DataType.FLOAT, DataType.DOUBLE):
        if isinstance(raw, float):
            return raw
        raise _mismatch(metric, kind, raw)
    if datatype == DataType.BOOLEAN:
        if isinstance(raw, bool):
            return raw
        raise _mismatch(metric, kind, raw)
    if datatype in _TEXTS:
        if isinstance(raw, str):
            return raw
        raise _mismatch(metric, kind, raw)
    raise PayloadError(f"metric {metric} is {kind}; this collector reads only scalar "
                       "datatypes (integers, Float, Double, Boolean, String, Text, UUID, "
                       "DateTime)")


def _mismatch(metric: str, kind: str, raw: RawValue) -> PayloadError:
    return PayloadError(f"metric {metric} is declared {kind} but carries "
                        f"{type(raw).__name__} {raw!r}")


# --- the schema ------------------------------------------------------------

_F = descriptor_pb2.FieldDescriptorProto
_PACKAGE = "org.eclipse.tahu.protobuf"

def _add_field(message: Any, name: str, number: int, kind: int, *, repeated: bool = False,
               type_name: str | None = None, oneof: int | None = None) -> None:
    field = message.field.add(name=name, number=number, type=kind,
                              label=_F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL)
    if type_name is not None:
        field.type_name = type_name
    if oneof is not None:
        field.oneof_index = oneof


def _schema() -> Any:
    """The Sparkplug B ``Payload`` message with the fields a collector reads."""
    schema = descriptor_pb2.FileDescriptorProto(name="thread_adapters/sparkplug_b.proto",
                                                package=_PACKAGE, syntax="proto2")
    payload = schema.message_type.add(name="Payload")
    metric = payload.nested_type.add(name="Metric")
    _add_field(payload, "timestamp", 1, _F.TYPE_UINT64)
    _add_field(payload, "metrics", 2, _F.TYPE_MESSAGE, repeated=True,
               type_name=f".{_PACKAGE}.Payload.Metric")
    _add_field(payload, "seq", 3, _F.TYPE_UINT64)
    _add_field(payload, "uuid", 4, _F.TYPE_STRING)
    _add_field(payload, "body", 5, _F.TYPE_BYTES)

    _add_field(metric, "name", 1, _F.TYPE_STRING)
    _add_field(metric, "alias", 2, _F.TYPE_UINT64)
    _add_field(metric, "timestamp", 3, _F.TYPE_UINT64)
    _add_field(metric, "datatype", 4, _F.TYPE_UINT32)
    _add_field(metric, "is_historical", 5, _F.TYPE_BOOL)
    _add_field(metric, "is_transient", 6, _F.TYPE_BOOL)
    _add_field(metric, "is_null", 7, _F.TYPE_BOOL)
    # 8 metadata, 9 properties: not declared, skipped as unknown fields.
    metric.oneof_decl.add(name="value")
    for name, number, kind in (("int_value", 10, _F.TYPE_UINT32),
                               ("long_value", 11, _F.TYPE_UINT64),
                               ("float_value", 12, _F.TYPE_FLOAT),
                               ("double_value", 13, _F.TYPE_DOUBLE),
                               ("boolean_value", 14, _F.TYPE_BOOL),
                               ("string_value", 15, _F.TYPE_STRING),
                               ("bytes_value", 16, _F.TYPE_BYTES)):
        _add_field(metric, name, number, kind, oneof=0)
    # 17 dataset, 18 template, 19 extension: not declared; such a metric has no value here.
    return schema


def _message_class() -> type[Any]:
    pool = descriptor_pool.DescriptorPool()
    pool.Add(_schema())
    descriptor = pool.FindMessageTypeByName(f"{_PACKAGE}.Payload")
    cls: type[Any] = message_factory.GetMessageClass(descriptor)
    return cls


#: The protobuf class of a Sparkplug B payload, from the schema above.
PayloadMessage = _message_class()


def decode_payload(raw: bytes) -> Payload:
    """Decode a Sparkplug B protobuf payload; PayloadError if the bytes are not one."""
    message = PayloadMessage()
    try:
        message.ParseFromString(raw)
    except DecodeError as error:
        raise PayloadError(f"not a Sparkplug B payload ({len(raw)} bytes): {error}") from None
    metrics = tuple(_metric(item) for item in message.metrics)
    return Payload(
        timestamp=message.timestamp if message.HasField("timestamp") else None,
        seq=message.seq if message.HasField("seq") else None,
        metrics=metrics,
        uuid=message.uuid if message.HasField("uuid") else None,
        body=message.body if message.HasField("body") else None,
    )


def _metric(item: Any) -> Metric:
    field = item.WhichOneof("value")
    raw: RawValue = getattr(item, field) if field is not None else None
    return Metric(
        name=item.name if item.HasField("name") else None,
        alias=item.alias if item.HasField("alias") else None,
        timestamp=item.timestamp if item.HasField("timestamp") else None,
        datatype=item.datatype,
        raw=raw,
        is_historical=item.is_historical,
        is_transient=item.is_transient,
        is_null=item.is_null,
    )


def encode_payload(payload: Payload) -> bytes:
    """Encode a payload (the collector sends commands); values must already be wire-ready."""
    message = PayloadMessage()
    if payload.timestamp is not None:
        message.timestamp = payload.timestamp
    if payload.seq is not None:
        message.seq = payload.seq
    if payload.uuid is not None:
        message.uuid = payload.uuid
    if payload.body is not None:
        message.body = payload.body
    for metric in payload.metrics:
        item = message.metrics.add()
        if metric.name is not None:
            item.name = metric.name
        if metric.alias is not None:
            item.alias = metric.alias
        if metric.timestamp is not None:
            item.timestamp = metric.timestamp
        if metric.datatype:
            item.datatype = metric.datatype
        if metric.is_historical:
            item.is_historical = True
        if metric.is_transient:
            item.is_transient = True
        if metric.is_null or metric.raw is None:
            item.is_null = True
        else:
            setattr(item, _wire_field(metric), metric.raw)
    encoded: bytes = message.SerializeToString()
    return encoded


def _wire_field(metric: Metric) -> str:
    raw = metric.raw
    if isinstance(raw, bool):
        return "boolean_value"
    if isinstance(raw, int):
        narrow = (DataType.INT8, DataType.INT16, DataType.INT32, DataType.UINT8,
                  DataType.UINT16, DataType.UINT32)
        return "int_value" if metric.datatype in narrow else "long_value"
    if isinstance(raw, float):
        return "float_value" if metric.datatype == DataType.FLOAT else "double_value"
    if isinstance(raw, str):
        return "string_value"
    return "bytes_value"


def milliseconds(at: datetime) -> int:
    """A timezone-aware time as Sparkplug milliseconds since the Unix epoch."""
    return math.floor((at - EPOCH) / timedelta(milliseconds=1))
