"""GS1 UDI: element strings, HRI and Digital Link URIs parse, validate and round-trip."""

from __future__ import annotations

import calendar
import contextlib
import re
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thread.domain.udi import (
    GS,
    UDI,
    InvalidUDI,
    gtin_check_digit,
    parse_digital_link,
    parse_element_string,
    parse_hri,
    parse_udi,
)
from thread.errors import LedgerError

#: GS1's own example GTIN.
GTIN = "09506000134352"
CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"


def test_gtin_check_digit_matches_published_examples() -> None:
    """The mod-10 check digit agrees with GS1's example GTINs."""
    assert gtin_check_digit(GTIN[:13]) == 2
    assert gtin_check_digit("0001234560001") == 2  # GTIN-14 00012345600012
    assert gtin_check_digit("0400638133393") == 1  # EAN-13 4006381333931, padded


def test_scanned_datamatrix_element_string_parses() -> None:
    """A DataMatrix scan with symbology id and GS separators gives every identifier."""
    udi = parse_udi(f"]d201{GTIN}11260301172812311" + "0LOT-7" + GS + "21SN0042")
    assert udi == UDI(gtin=GTIN, lot="LOT-7", serial="SN0042", production_date="260301",
                      expiry_date="281231")
    assert udi.production_day == date(2026, 3, 1)
    assert udi.expiry_day == date(2028, 12, 31)


def test_fnc1_codeword_counts_as_separator() -> None:
    """A scanner that passes FNC1 through as codeword 232 is read like one sending GS."""
    udi = parse_element_string(f"\xe801{GTIN}10A1\xe821B2")
    assert (udi.lot, udi.serial) == ("A1", "B2")


def test_hri_and_digital_link_forms_parse_to_the_same_udi() -> None:
    """(01)..(21).. on the label and the Digital Link URI name the same device."""
    hri = parse_hri(f"(01) {GTIN}(17)270600(10)L 1(21)S1".replace("L 1", "L1"))
    link = parse_digital_link(f"https://example.com/dl/01/{GTIN}/10/L1/21/S1?17=270600&linkType=x")
    assert hri == link == UDI(gtin=GTIN, lot="L1", serial="S1", expiry_date="270600")
    assert hri.expiry_day == date(2027, 6, 30)  # day 00: last day of the month


def test_digital_link_pads_short_gtins_and_reads_aliases() -> None:
    """A GTIN-13 in a Digital Link is padded to 14 digits; /gtin/ and /ser/ are accepted."""
    udi = parse_digital_link("https://id.gs1.org/gtin/4006381333931/ser/A%2F1")
    assert (udi.gtin, udi.serial) == ("04006381333931", "A/1")


def test_wrong_check_digit_names_the_ai_and_value() -> None:
    """A mistyped GTIN is refused with the AI, the value and the expected check digit."""
    with pytest.raises(InvalidUDI) as raised:
        parse_udi(f"(01){GTIN[:13]}9(21)1")
    assert (raised.value.ai, raised.value.value) == ("01", GTIN[:13] + "9")
    assert "check digit 2" in str(raised.value)
    assert isinstance(raised.value, LedgerError)


@pytest.mark.parametrize(("text", "ai", "expected"), [
    (f"(01){GTIN}(11)261301", "11", "month 01-12"),
    (f"(01){GTIN}(17)260230", "17", "day 00-28"),
    (f"(01){GTIN}(17)2602", "17", "6 digits"),
    (f"(01){GTIN}(10){'A' * 21}", "10", "at most 20 characters"),
    (f"(01){GTIN}(21)S N", "21", "character set 82"),
    (f"(01){GTIN}(99)X", "99", "not one this parser reads"),
    (f"(01){GTIN}(21)1(21)2", "21", "one (21) per UDI"),
    ("(21)123", "01", "device identifier (01)"),
    (f"01{GTIN}1", "1", "not one this parser reads"),
    ("0195060001343", "01", "14 characters"),
])
def test_invalid_udis_are_refused_naming_the_ai(text: str, ai: str, expected: str) -> None:
    """Each kind of bad input says which AI failed and what was expected."""
    with pytest.raises(InvalidUDI, match=re.escape(expected)) as raised:
        parse_udi(text)
    assert raised.value.ai == ai


def test_not_a_digital_link_is_refused() -> None:
    """A URI without /01/ is not taken for a UDI."""
    with pytest.raises(InvalidUDI, match="/01/"):
        parse_udi("https://id.gs1.org/414/9506000134352")


@st.composite
def udis(draw: st.DrawFn, alphabet: str = CSET82) -> UDI:
    """Any valid UDI."""
    body = draw(st.text("0123456789", min_size=13, max_size=13))

    def day() -> str:
        year, month = draw(st.integers(0, 99)), draw(st.integers(1, 12))
        last = calendar.monthrange(2000 + year, month)[1]
        return f"{year:02d}{month:02d}{draw(st.integers(0, last)):02d}"

    text = st.text(alphabet, min_size=1, max_size=20)
    return UDI(
        gtin=body + str(gtin_check_digit(body)),
        lot=draw(st.none() | text), serial=draw(st.none() | text),
        production_date=draw(st.none()) if draw(st.booleans()) else day(),
        expiry_date=draw(st.none()) if draw(st.booleans()) else day(),
    )


@settings(max_examples=300, deadline=None)
@given(udis())
def test_element_string_round_trips(udi: UDI) -> None:
    """Writing the element string and scanning it back gives the same UDI."""
    assert parse_udi(udi.element_string()) == udi
    assert parse_udi("]d2" + udi.element_string()) == udi


@settings(max_examples=300, deadline=None)
@given(udis())
def test_digital_link_round_trips(udi: UDI) -> None:
    """A UDI written as a Digital Link URI, any character percent-encoded, reads back the same."""
    assert parse_udi(udi.digital_link()) == udi


@settings(max_examples=300, deadline=None)
@given(udis(alphabet=CSET82.replace("(", "").replace(")", "")))
def test_hri_round_trips(udi: UDI) -> None:
    """The human-readable interpretation reads back the same (values without parentheses,
    which HRI cannot tell from an AI)."""
    assert parse_udi(udi.hri()) == udi


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60) | st.just("http://[/01/x"))
def test_any_text_parses_or_is_refused_with_our_error(text: str) -> None:
    """Garbage never escapes as anything but InvalidUDI."""
    with contextlib.suppress(InvalidUDI):
        parse_udi(text)
