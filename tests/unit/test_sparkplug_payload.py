"""Our Sparkplug B decoder against pysparkplug's encoder (and its protoc-generated schema)."""

from __future__ import annotations

import math
import struct
from datetime import UTC, datetime, timedelta

import pysparkplug as sp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pysparkplug._protobuf import Payload as GeneratedPayload

from thread_adapters.sparkplug import DataType, PayloadError, decode_payload
from thread_adapters.sparkplug.collector import REBIRTH_METRIC
from thread_adapters.sparkplug.payload import (
    EPOCH,
    Metric,
    Payload,
    datatype_name,
    decode_value,
    encode_payload,
)


def float32(value: float) -> float:
    """The value a Float metric can carry: rounded to IEEE single precision."""
    return float(struct.unpack("<f", struct.pack("<f", value))[0])


def _ints(bits: int, signed: bool) -> st.SearchStrategy[int]:
    if signed:
        return st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    return st.integers(0, 2**bits - 1)


#: Each scalar datatype a PLC publishes, with values it can hold.
VALUES: dict[sp.DataType, st.SearchStrategy[sp.MetricValue]] = {
    sp.DataType.INT8: _ints(8, True),
    sp.DataType.INT16: _ints(16, True),
    sp.DataType.INT32: _ints(32, True),
    sp.DataType.INT64: _ints(64, True),
    sp.DataType.UINT8: _ints(8, False),
    sp.DataType.UINT16: _ints(16, False),
    sp.DataType.UINT32: _ints(32, False),
    sp.DataType.UINT64: _ints(64, False),
    sp.DataType.FLOAT: st.floats(width=32, allow_nan=False),
    sp.DataType.DOUBLE: st.floats(allow_nan=False),
    sp.DataType.BOOLEAN: st.booleans(),
    sp.DataType.STRING: st.text(max_size=40),
    sp.DataType.TEXT: st.text(max_size=40),
    sp.DataType.UUID: st.uuids().map(str),
    sp.DataType.DATETIME: st.datetimes(min_value=datetime(1970, 1, 1),
                                       max_value=datetime(2200, 1, 1),
                                       timezones=st.just(UTC)),
}


@st.composite
def metrics(draw: st.DrawFn) -> sp.Metric:
    """A metric as an edge node sends it: by name, by alias or both, possibly null or historical."""
    datatype = draw(st.sampled_from(sorted(VALUES)))
    named = draw(st.booleans())
    alias = draw(st.none() | st.integers(0, 2**64 - 1)) if named else draw(
        st.integers(0, 2**64 - 1))
    null = draw(st.booleans())
    return sp.Metric(
        timestamp=draw(st.none() | st.integers(0, 2**64 - 1)),
        name=draw(st.text(min_size=1, max_size=30)) if named else None,
        datatype=datatype,
        value=None if null else draw(VALUES[datatype]),
        alias=alias,
        is_historical=draw(st.booleans()),
        is_null=null,
    )


def expected(metric: sp.Metric) -> object:
    """What the metric's value means, independent of how it travels."""
    if metric.value is None:
        return None
    if metric.datatype == sp.DataType.DATETIME:
        # pysparkplug puts whole milliseconds on the wire.
        milliseconds = sp.DataType.DATETIME.encode(metric.value)
        assert isinstance(milliseconds, int)
        return EPOCH + timedelta(milliseconds=milliseconds)
    return metric.value


@settings(max_examples=300, deadline=None)
@given(items=st.lists(metrics(), max_size=8), timestamp=st.integers(0, 2**64 - 1),
       seq=st.integers(0, 255))
def test_what_pysparkplug_encodes_decodes_to_the_same_values(items: list[sp.Metric],
                                                            timestamp: int, seq: int) -> None:
    """Every scalar datatype, alias-only metrics, nulls, historical flags and timestamps survive."""
    raw = sp.NData(timestamp=timestamp, seq=seq, metrics=tuple(items)).encode(
        include_dtypes=True)
    payload = decode_payload(raw)
    assert (payload.timestamp, payload.seq) == (timestamp, seq)
    assert len(payload.metrics) == len(items)
    for sent, got in zip(items, payload.metrics, strict=True):
        assert (got.name, got.alias, got.timestamp) == (sent.name, sent.alias, sent.timestamp)
        assert (got.datatype, got.is_historical, got.is_null) == (
            sent.datatype, sent.is_historical, sent.value is None)
        assert got.value() == expected(sent)


@settings(max_examples=200, deadline=None)
@given(datatype=st.sampled_from(sorted(VALUES)), data=st.data())
def test_data_without_datatype_decodes_with_the_births(datatype: sp.DataType,
                                                       data: st.DataObject) -> None:
    """A data metric sent without its datatype decodes with the datatype its birth declared."""
    value = data.draw(VALUES[datatype])
    sent = sp.Metric(timestamp=1, name=None, alias=5, datatype=datatype, value=value)
    raw = sp.NData(timestamp=1, seq=1, metrics=(sent,)).encode(include_dtypes=False)
    got = decode_payload(raw).metrics[0]
    assert got.datatype == DataType.UNKNOWN
    assert got.value(datatype) == expected(sent)


def test_float_metrics_carry_single_precision() -> None:
    """A Float metric decodes to exactly the single-precision value on the wire."""
    sent = sp.Metric(timestamp=1, name="t", datatype=sp.DataType.FLOAT, value=21.1)
    got = decode_payload(sp.NData(timestamp=1, seq=0, metrics=(sent,)).encode()).metrics[0]
    assert got.value(DataType.FLOAT) == float32(21.1)
    assert got.value(DataType.FLOAT) != 21.1


def test_nan_and_infinity_decode() -> None:
    """Non-finite doubles decode as such; refusing them is the mapping layer's decision."""
    items = (sp.Metric(timestamp=1, name="a", datatype=sp.DataType.DOUBLE, value=math.nan),
             sp.Metric(timestamp=1, name="b", datatype=sp.DataType.FLOAT, value=-math.inf))
    got = decode_payload(sp.NData(timestamp=1, seq=0, metrics=items).encode(
        include_dtypes=True)).metrics
    assert math.isnan(got[0].value())  # type: ignore[arg-type]
    assert got[1].value() == -math.inf


@pytest.mark.parametrize(("datatype", "field", "wire", "value"), [
    (DataType.INT8, "int_value", 0xFFFFFFFF, -1),           # sign-extended to 32 bits
    (DataType.INT8, "int_value", 0xFF, -1),                 # two's complement in 8 bits
    (DataType.INT16, "int_value", 0xFFFF8000, -32768),
    (DataType.INT32, "long_value", 2**64 - 2, -2),           # sign-extended to 64 bits
    (DataType.INT64, "long_value", 2**63, -(2**63)),
    (DataType.UINT32, "long_value", 4_000_000_000, 4_000_000_000),  # 32-bit value in a long
    (DataType.DATETIME, "long_value", 1_772_431_200_123,
     datetime(2026, 3, 2, 6, 0, 0, 123_000, tzinfo=UTC)),
])
def test_integer_wire_variants_of_other_encoders(datatype: DataType, field: str, wire: int,
                                                 value: object) -> None:
    """Integers are read by datatype width whichever field and sign extension the encoder chose."""
    message = GeneratedPayload(timestamp=1, seq=0)
    metric = message.metrics.add(name="m", datatype=datatype)
    setattr(metric, field, wire)
    assert decode_payload(message.SerializeToString()).metrics[0].value() == value


def test_dataset_metric_decodes_without_a_value() -> None:
    """A DataSet (not read by this collector) is skipped as unknown fields, not an error."""
    message = GeneratedPayload(timestamp=1, seq=0)
    metric = message.metrics.add(name="table", datatype=DataType.DATASET)
    metric.dataset_value.num_of_columns = 1
    metric.dataset_value.columns.append("x")
    got = decode_payload(message.SerializeToString()).metrics[0]
    assert (got.name, got.datatype, got.raw) == ("table", DataType.DATASET, None)
    with pytest.raises(PayloadError, match="carries no value"):
        got.value()


@pytest.mark.parametrize(("datatype", "raw", "message"), [
    (DataType.UINT8, 300, r"metric 'm' is declared UInt8 but carries 300, outside 0\.\.255"),
    (DataType.BOOLEAN, "yes", r"metric 'm' is declared Boolean but carries str 'yes'"),
    (DataType.DOUBLE, 3, r"metric 'm' is declared Double but carries int 3"),
    (DataType.INT32, True, r"metric 'm' is declared Int32 but carries bool True"),
    (DataType.INT8_ARRAY, b"\x01", r"metric 'm' is Int8Array; this collector reads only scalar"),
])
def test_values_that_do_not_fit_their_datatype_are_refused(datatype: DataType, raw: object,
                                                           message: str) -> None:
    """A value outside its datatype is a PayloadError that names the metric, type and value."""
    with pytest.raises(PayloadError, match=message):
        decode_value(datatype, raw, metric="'m'")  # type: ignore[arg-type]


def test_bytes_that_are_not_a_payload_are_refused() -> None:
    """Garbage is a PayloadError naming its size."""
    with pytest.raises(PayloadError, match=r"not a Sparkplug B payload \(3 bytes\)"):
        decode_payload(b"\xff\xff\xff")


def test_our_rebirth_command_decodes_with_pysparkplug() -> None:
    """The NCMD the collector sends is read by pysparkplug as Node Control/Rebirth = true."""
    raw = encode_payload(Payload(timestamp=1_772_431_200_000, seq=None, metrics=(
        Metric(name=REBIRTH_METRIC, alias=None, timestamp=1_772_431_200_000,
               datatype=DataType.BOOLEAN, raw=True),)))
    command = sp.NCmd.decode(raw)
    assert command.timestamp == 1_772_431_200_000
    assert [(m.name, m.datatype, m.value) for m in command.metrics] == [
        (REBIRTH_METRIC, sp.DataType.BOOLEAN, True)]


def test_datatype_names_follow_the_specification() -> None:
    """Messages name datatypes as the specification spells them."""
    assert [datatype_name(code) for code in (1, 8, 13, 15, 22, 34, 99)] == [
        "Int8", "UInt64", "DateTime", "UUID", "Int8Array", "DateTimeArray", "datatype 99"]
    assert [member.value for member in DataType] == [member.value for member in sp.DataType]
