"""The fonts a PDF copy is set in: Bitstream Vera, embedded, so it renders the same everywhere.

The PDF standard fonts are not embedded: each viewer substitutes its own, and
their WinAnsi encoding has no ``≤``. A copy of a record (Part 11.10(b)) should
look the same on every machine, so it embeds the free Bitstream Vera faces
reportlab ships (``reportlab/fonts``, Bitstream Vera licence): Latin-1 and
the symbols a record prints (``° µ · ± ≤ ≥ ² ³ Ω −``). A character the faces
have no glyph for is spelled with ones they have (``→`` as ``->``), never
left to print as an empty box.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from pathlib import Path

import reportlab
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

REGULAR = "Vera"
BOLD = "Vera-Bold"
ITALIC = "Vera-Italic"
BOLD_ITALIC = "Vera-BoldItalic"
_FILES = {REGULAR: "Vera.ttf", BOLD: "VeraBd.ttf", ITALIC: "VeraIt.ttf",
          BOLD_ITALIC: "VeraBI.ttf"}
#: Characters the faces lack, spelled with characters they have.
_SPELLED = {"\u2192": "->", "\u2190": "<-", "\u2713": "ok", "\u2032": "'", "\u2033": '"',
            "\u03bc": "\u00b5", "\u2126": "\u03a9", "\u22c5": "\u00b7", "\u2011": "-"}


@cache
def register() -> frozenset[int]:
    """Register the four faces as one family (once); return the code points all of them draw."""
    folder = Path(reportlab.__file__).parent / "fonts"
    covered: frozenset[int] | None = None
    for name, file in _FILES.items():
        font = TTFont(name, str(folder / file))
        pdfmetrics.registerFont(font)
        drawn = frozenset(font.face.charToGlyph)
        covered = drawn if covered is None else covered & drawn
    pdfmetrics.registerFontFamily(REGULAR, normal=REGULAR, bold=BOLD, italic=ITALIC,
                                  boldItalic=BOLD_ITALIC)
    assert covered is not None
    return covered


def printable(text: str) -> str:
    """``text`` with every character one the embedded faces draw."""
    covered = register()
    text = unicodedata.normalize("NFC", text)
    if all(ord(char) in covered for char in text):
        return text
    return "".join(_spell(char, covered) for char in text)


def _spell(char: str, covered: frozenset[int]) -> str:
    if ord(char) in covered:
        return char
    if char in _SPELLED:
        return _SPELLED[char]
    if char in "\t\n\r":
        return " "
    # An accented letter the faces lack keeps its base letter (ő -> o).
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if ord(c) in covered
                   and not unicodedata.combining(c))
    return base or "?"
