"""Identifiers are one serial however they were typed: Unicode NFC, no control characters,
and messages echo what was typed without letting it act on the terminal."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from thread import facts as f
from thread.domain.topics import printable
from thread.errors import InvalidFact

NFC, NFD = "SN-\u00c5", "SN-A\u030a"


def test_precomposed_and_decomposed_are_one_serial() -> None:
    """"SN-Å" typed as NFC and as NFD name one aggregate."""
    a = f.PartRegistered(serial=NFC, part_number="P", revision="A")
    b = f.PartRegistered(serial=NFD, part_number="P", revision="A")
    assert a.serial == b.serial == NFC and a.subject == b.subject


@pytest.mark.parametrize("bad", ["SN-\x07", "SN\x00-1", "SN-\u200b1", "SN-\x1b[2J"])
def test_control_and_invisible_characters_are_refused(bad: str) -> None:
    """A bell, a NUL, a zero-width space or a terminal escape is not part of a serial; the
    message names the code point and shows the value escaped, on one line."""
    with pytest.raises(InvalidFact, match=r"without control characters \(found U\+") as refused:
        f.PartRegistered(serial=bad, part_number="P", revision="A")
    message = str(refused.value)
    assert message.isprintable() and "\n" not in message


@given(st.text(min_size=1, max_size=20))
def test_any_accepted_identifier_is_nfc_and_printable(text: str) -> None:
    """Whatever is accepted is stored in NFC with no control or format characters."""
    try:
        fact = f.PartRegistered(serial=text, part_number="P", revision="A")
    except InvalidFact:
        return
    assert fact.serial == unicodedata.normalize("NFC", text)
    assert not any(unicodedata.category(c) in ("Cc", "Cf") for c in fact.serial)


def test_printable_escapes_what_would_act_on_a_terminal() -> None:
    assert printable("SN-1") == "SN-1"
    assert printable("SN-\x1b[2J") == "SN-\\x1b[2J"



def _by_definition(value: str) -> str | None:
    """NFC, or None when a control or format character remains: the rule spelled out."""
    normal = unicodedata.normalize("NFC", value)
    return None if any(unicodedata.category(c) in ("Cc", "Cf") for c in normal) else normal


@given(st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=30) | st.text(max_size=30))
def test_the_ascii_shortcut_keeps_the_rule(text: str) -> None:
    """ASCII text and any text come out of identifier() as NFC and the rule says, or are
    refused exactly when a control or format character is in them."""
    from thread.domain.facts.base import identifier

    expected = _by_definition(text)
    if expected is None:
        with pytest.raises(ValueError, match="control characters"):
            identifier(text)
    else:
        assert identifier(text) == expected
