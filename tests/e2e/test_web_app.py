"""The web app in a real browser: Playwright driving Debian's Chromium through search, a
part's story, a genealogy drill-down, a recall scope and a DHR download, against a real
uvicorn server. CI sets THREAD_TEST_BROWSER=1, so a missing Chromium fails there."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Clock
from web_server import T0, serving, small_plant

from thread.web import create_app

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def page(tmp_path: Path) -> Iterator[tuple[Any, str]]:
    """A browser page and the base URL of the app over a small plant."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("THREAD_TEST_BROWSER"):
            pytest.fail(f"THREAD_TEST_BROWSER is set but {CHROMIUM} is missing")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); set "
                    f"THREAD_TEST_BROWSER=1 to require it")
    from playwright.sync_api import sync_playwright

    url = str(tmp_path / "plant.db")
    small_plant(url, Clock())
    with serving(create_app(url)) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        tab = browser.new_page(viewport={"width": 1024, "height": 768}, accept_downloads=True)
        yield tab, base
        browser.close()


def test_search_leads_to_the_story_and_the_genealogy_drills_down(
        page: tuple[Any, str]) -> None:
    """Typing a part number lists its serials (htmx); a serial's story shows its chain
    verified and its operations; the assembly's genealogy links to the component's story."""
    tab, base = page
    tab.goto(f"{base}/ui/")
    tab.fill("#q", "BRG-6204")
    tab.wait_for_selector("#results a")
    assert tab.locator("#results a").all_inner_texts() == ["SN-1", "SN-2", "A-1"]
    tab.click("#results a >> text=A-1")
    assert tab.locator("h1").inner_text() == "part A-1"
    assert tab.locator("#verified").inner_text() == "chain verified"
    tab.click("text=Genealogy down")
    tab.click("#tree a >> text=SN-1")
    assert tab.locator("h1").inner_text() == "part SN-1"
    assert "OP30" in tab.locator("#timeline").inner_text()
    assert tab.locator("svg[role=img]").count() == 1  # its operation drawn
    assert tab.locator("svg polyline.samples").count() == 1  # from its 60 raw readings
    tab.fill("#go", "SN-2")
    tab.press("#go", "Enter")
    assert tab.locator("h1").inner_text() == "part SN-2"
    tab.goto(f"{base}/ui/parts/NOPE")
    assert "no part or lot NOPE" in tab.locator(".refused").inner_text()


def test_a_recall_scope_from_the_form_and_a_dhr_download(page: tuple[Any, str]) -> None:
    """The recall form answers with both machined serials in scope; the story's DHR link
    downloads a PDF."""
    tab, base = page
    tab.goto(f"{base}/ui/recall")
    tab.fill("#machine", "GR-01")
    tab.fill("#start", T0.isoformat())
    tab.fill("#end", T0.replace(hour=7).isoformat())
    tab.click("text=Show the scope")
    assert tab.locator("#affected a").all_inner_texts() == ["SN-1", "SN-2"]
    tab.goto(f"{base}/ui/parts/SN-1")
    with tab.expect_download() as download:
        tab.click("#dhr-pdf")
    saved = Path(download.value.path())
    assert saved.read_bytes().startswith(b"%PDF")


def test_the_investigation_and_a_control_chart(page: tuple[Any, str]) -> None:
    """The investigation of the part number answers with its serials and failures; a control
    chart of a process parameter is drawn as a picture with its rules listed."""
    tab, base = page
    tab.goto(f"{base}/ui/parts/SN-1")
    tab.click("text=Investigate BRG-6204")
    assert "Serials made" in tab.locator("#summary").inner_text()
    tab.goto(f"{base}/ui/spc")
    tab.fill("#metric", "process.spindle_speed.mean")
    tab.fill("#part_number", "BRG-6204")
    tab.click("text=Draw")
    assert tab.locator("img[alt^='control chart']").count() == 1
    assert tab.locator("h2").inner_text().startswith("Rules broken")


def test_the_record_history_shows_a_correction_s_old_and_new_value(
        page: tuple[Any, str], tmp_path: Path) -> None:
    """A corrected inspection: the history page says what was recorded and what replaced
    it, with the reason."""
    import thread
    from thread import facts as f

    tab, base = page
    ledger = thread.open(tmp_path / "plant.db")
    wrong = next(e for e in ledger.history("SN-1") if isinstance(e.fact, f.InspectionRecorded))
    ledger.correct(wrong.fact.model_copy(update={"measured": 19.992}),
                   corrects=wrong.originator_version, reason="transcription error")
    ledger.close()
    tab.goto(f"{base}/ui/history/part/SN-1")
    text = tab.locator("table").inner_text()
    assert "transcription error" in text
    assert "was (version" in text and "19.995" in text and "now (version" in text
    assert "19.992" in text
