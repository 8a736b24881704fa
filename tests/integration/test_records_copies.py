"""The copies of a record for people: current citations, units as people write them, embedded
fonts with every glyph drawn, signatures called VERIFIED only against a pinned key, and pages
that flow without half-empty pages before a section."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from conftest import Clock
from reportlab.lib.units import mm

import thread
from thread import facts as f
from thread.demo import fill, signer_keys
from thread.domain.units import UNITS
from thread.records import (
    DeviceHistoryRecord,
    FirstArticleReport,
    device_history_record,
    first_article_report,
    render_html,
    render_pdf,
)
from thread.records.fonts import printable, register
from thread.records.units import SYMBOLS, quantity, requirement


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[thread.Ledger]:
    """The demo plant as `thread demo` fills it (seed 7, 300 bearings)."""
    ledger = thread.open(str(tmp_path_factory.mktemp("copies") / "demo.db"))
    fill(ledger)
    yield ledger
    ledger.close()


def pages_of(data: bytes) -> list[str]:
    """The text of each page of a PDF."""
    return [page.get_textpage().get_text_range().replace("\r\n", "\n")
            for page in pdfium.PdfDocument(data)]


def test_the_dhr_cites_iso_13485_7_5_1_and_820_10(plant: thread.Ledger) -> None:
    """Since the QMSR the DHR cites ISO 13485:2016 7.5.1 and 21 CFR 820.10, never the repealed
    820.184, and keeps its name."""
    record = device_history_record(plant, "HUB-000001")
    standard = record.document.standard
    assert "ISO 13485:2016 7.5.1" in standard and "21 CFR 820.10" in standard
    text = "\n".join(pages_of(render_pdf(record))) + render_html(record)
    assert "820.184" not in text
    assert "Device History Record" in text and "21 CFR 820.10" in text


def test_units_print_as_the_si_brochure_writes_them() -> None:
    """°C, µm, N·m with a space after the number, the degree against it; a one-sided limit reads
    Ra ≤ 0.2 µm; every unit code the domain accepts has a symbol."""
    assert set(SYMBOLS) == set(UNITS)
    assert quantity(21, "Cel") == "21 \u00b0C"
    assert quantity(0.11, "um") == "0.11 \u00b5m"
    assert quantity(1.2, "N.m") == "1.2 N\u00b7m"
    assert quantity(9.81, "m/s2") == "9.81 m/s\u00b2"
    assert quantity(30, "deg") == "30\u00b0"
    assert quantity(41, "%") == "41 %"
    assert quantity(12, "{count}") == "12"
    assert requirement(0.0, 0.0, 0.2, "um", name="Inner raceway roughness Ra") == (
        "Ra \u2264 0.2 \u00b5m")
    assert requirement(1.2, -0.4, 0.4, "N.m") == "1.2 N\u00b7m \u00b10.4 (0.8 to 1.6 N\u00b7m)"
    assert requirement(20.0, -0.01, 0.0, "mm") == "20 mm +0/-0.01 (19.99 to 20 mm)"


def test_the_pdf_embeds_its_fonts_and_draws_every_character(plant: thread.Ledger) -> None:
    """Vera is embedded (no PDF standard font is named), and °C, µm, N·m and ≤ come out of the
    PDF as written, with no character replaced."""
    covered = register()
    for record in (device_history_record(plant, "BRG-000001"),
                   device_history_record(plant, "HUB-000001"),
                   first_article_report(plant, "BRG-6204", "A")):
        data = render_pdf(record)
        assert b"/FontFile2" in data
        for standard in (b"/Helvetica", b"/Courier", b"/Times"):
            assert standard not in data
        text = "\n".join(pages_of(data))
        assert all(ord(char) in covered or char in "\n\r" for char in text)
    texts = {
        "BRG-000001": "\n".join(pages_of(render_pdf(device_history_record(plant, "BRG-000001")))),
        "HUB-000001": "\n".join(pages_of(render_pdf(device_history_record(plant, "HUB-000001")))),
    }
    assert "Ra \u2264 0.2 \u00b5m" in texts["BRG-000001"]
    assert "\u00b0C" in texts["BRG-000001"]  # the coolant temperature's unit
    assert "1.2 N\u00b7m \u00b10.4" in texts["HUB-000001"]
    # What the faces cannot draw is spelled with what they can, never left as a blank box.
    assert printable("a \u2192 b \u2713 3 \u03bcm, \u0151") == "a -> b ok 3 \u00b5m, o"


def test_a_signature_is_verified_only_against_a_pinned_key(plant: thread.Ledger) -> None:
    """Without a pinned key the copy says what was checked (the event hash, the key it
    carries) and that the key is not pinned; with the demo's keys pinned it says VERIFIED."""
    unpinned = "\n".join(pages_of(render_pdf(device_history_record(plant, "HUB-000001"))))
    assert "KEY NOT PINNED" in unpinned
    assert "VERIFIED:" not in unpinned.replace("NOT VERIFIED:", "")
    assert "matches the SHA-256 hash of version" in unpinned
    pinned = render_pdf(device_history_record(plant, "HUB-000001", trusted_keys=signer_keys()))
    text = "\n".join(pages_of(pinned))
    assert "VERIFIED:" in text and "KEY NOT PINNED" not in text
    html = render_html(device_history_record(plant, "HUB-000001"))
    assert "KEY NOT PINNED" in html and ">VERIFIED<" not in html


def lowest_body_text(page: pdfium.PdfPage) -> float:
    """How high above the page's bottom edge (points) the lowest line of body text sits."""
    textpage = page.get_textpage()
    bottoms = [float(textpage.get_rect(i)[1]) for i in range(textpage.count_rects())]
    return min(b for b in bottoms if b > 15 * mm)  # above the footer


def record_of(plant: thread.Ledger, which: str) -> DeviceHistoryRecord | FirstArticleReport:
    """One of the demo's records with pages enough to break."""
    if which.startswith("dhr-hub"):
        return device_history_record(plant, which.replace("dhr-hub", "HUB"))
    if which == "dhr-bearing":
        return device_history_record(plant, "BRG-000001")
    return first_article_report(plant, "WH-3100" if which == "fair-hub" else "BRG-6204", "A")


@pytest.mark.parametrize("which", ["dhr-hub-000001", "dhr-hub-000126", "dhr-bearing",
                                   "fair-hub", "fair-bearing"])
def test_sections_flow_without_half_empty_pages(plant: thread.Ledger, which: str) -> None:
    """On every page but the last, body text reaches the lowest third of the page: no section
    waits on a new page while half a page stays empty."""
    document = pdfium.PdfDocument(render_pdf(record_of(plant, which)))
    assert len(document) >= 3
    for number in range(len(document) - 1):
        page = document[number]
        height = page.get_height()
        assert lowest_body_text(page) < height / 3, (which, number + 1)


def test_a_table_longer_than_the_page_left_starts_where_it_is(tmp_path: Path) -> None:
    """A unit gauged 120 times: its inspection table starts under its caption on the page
    where the section is, and breaks across pages, instead of leaving that page half empty."""
    ledger = thread.open(str(tmp_path / "long.db"), clock=Clock(), actor="tester")
    ledger.record(f.RevisionReleased(
        part_number="P-1", revision="A", part_name="Pin", drawing="DWG-1",
        characteristics=(f.Characteristic(balloon="1", name="Diameter", nominal=5.0, unit="mm",
                                          lower_tolerance=-0.01, upper_tolerance=0.01),)))
    ledger.record(f.PartRegistered(serial="P-0001", part_number="P-1", revision="A"))
    with ledger.batch() as batch:
        for n in range(120):
            batch.record(f.InspectionRecorded(
                serial="P-0001", characteristic="1", method="gauge", measured=5.0 + n / 20000,
                unit="mm", nominal=5.0, lower_tolerance=-0.01, upper_tolerance=0.01,
                verdict="pass", report=f"IR-{n}"))
    document = pdfium.PdfDocument(render_pdf(device_history_record(ledger, "P-0001")))
    ledger.close()
    assert len(document) >= 4
    for number in range(len(document) - 1):
        page = document[number]
        assert lowest_body_text(page) < page.get_height() / 3, number + 1
