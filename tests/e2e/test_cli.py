"""The ``thread`` command: demo, parts and history, text and JSON, errors and THREAD_DB."""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import thread
from thread.cli import main
from thread.presentation import summarize

BEARINGS = 30


def _run(*args: str, env: dict[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env or {"THREAD_DB": None})


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A ledger the demo filled with 30 bearings, shared by the read-only tests."""
    path = str(tmp_path_factory.mktemp("cli") / "demo.db")
    result = _run("--db", path, "demo", "--bearings", str(BEARINGS))
    assert result.exit_code == 0, result.output
    return path


def test_demo_prints_a_summary_and_what_to_try(tmp_path: Path) -> None:
    """thread demo says what it simulated, where it wrote, and which command to try next."""
    path = tmp_path / "plant.db"
    result = _run("--db", str(path), "demo", "--bearings", "12")
    assert result.exit_code == 0, result.output
    assert f"in {path}" in result.output
    assert re.search(r"^  bearings +12 ", result.output, re.MULTILINE)
    assert f"try: thread --db {path} parts" in result.output


def test_demo_twice_records_nothing_new(tmp_path: Path) -> None:
    """Running the demo again on the same ledger leaves the event count unchanged."""
    path = str(tmp_path / "plant.db")
    first = json.loads(_run("--db", path, "demo", "--bearings", "9", "--json").output)
    again = _run("--db", path, "demo", "--bearings", "9", "--json")
    assert again.exit_code == 0, again.output
    second = json.loads(again.output)
    assert second["events"] == first["events"]
    assert (first["written"], second["written"]) == (first["facts"], 0)


def test_demo_json_is_the_summary_without_a_progress_bar(tmp_path: Path) -> None:
    """demo --json prints a JSON summary and nothing else (no progress bar)."""
    result = _run("--db", str(tmp_path / "plant.db"), "demo", "--bearings", "6", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)  # stdout and stderr together: JSON and nothing else
    assert summary["bearings"] == 6
    assert summary["seed"] == 7
    assert summary["db"] == str(tmp_path / "plant.db")
    assert summary["events"] > summary["facts"] > 6


def test_parts_json_lists_every_serial(demo_db: str) -> None:
    """parts --json gives each serial with part number, revision and location."""
    result = _run("--db", demo_db, "parts", "--json")
    assert result.exit_code == 0, result.output
    listing = json.loads(result.output)
    parts = {part["serial"]: part for part in listing["parts"]}
    assert listing["count"] == len(parts)
    bearings = [serial for serial in parts if serial.startswith("BRG-")]
    assert bearings == [f"BRG-{n:06d}" for n in range(1, BEARINGS + 1)]
    assert len(parts) > BEARINGS
    first = parts["BRG-000001"]
    assert (first["part_number"], first["revision"]) == ("BRG-6204", "A")
    assert first["location"].startswith("in assembly HUB-")
    hub = parts["HUB-000001"]
    assert hub["part_number"] == "WH-3100"
    assert hub["location"].startswith("installed at ")


def test_parts_table_names_part_numbers(demo_db: str) -> None:
    """parts prints one row per serial under a header and a total."""
    result = _run("--db", demo_db, "parts")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["SERIAL", "PART", "NUMBER"]
    assert lines[1].split()[:3] == ["BRG-000001", "BRG-6204", "A"]
    assert lines[-1] == f"{len(lines) - 2} parts"


def test_history_json_is_the_verified_chain(demo_db: str) -> None:
    """history --json gives the events in order, each linked to the previous one's hash."""
    result = _run("--db", demo_db, "history", "BRG-000001", "--json")
    assert result.exit_code == 0, result.output
    story = json.loads(result.output)
    assert (story["serial"], story["verified"]) == ("BRG-000001", True)
    events = story["events"]
    assert [event["version"] for event in events] == list(range(1, len(events) + 1))
    assert events[0]["prev_hash"] == "00" * 32
    for before, after in itertools.pairwise(events):
        assert after["prev_hash"] == before["hash"]
    assert events[0]["topic"] == "manufacturing.part-registered"
    assert events[0]["fact"]["part_number"] == "BRG-6204"
    assert events[0]["source"] == "demo"
    topics = {event["topic"] for event in events}
    assert {"manufacturing.process-recorded", "quality.inspection-recorded",
            "manufacturing.installed-into"} <= topics


def test_history_table_ends_with_the_verification(demo_db: str) -> None:
    """history prints a row per event with a summary and says the chain verified."""
    result = _run("--db", demo_db, "history", "HUB-000001")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[0] == "VER"
    assert "installed BRG-" in result.output
    assert lines[-1].startswith(f"chain of {len(lines) - 2} events verified")


def test_unknown_serial_exits_1_with_a_message(demo_db: str) -> None:
    """history of a serial the ledger never saw fails with status 1 and one clear line."""
    result = _run("--db", demo_db, "history", "BRG-999999")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: part BRG-999999 is not in this ledger; list the serials with: "
        f"thread --db {demo_db} parts"
    ]


def test_unusable_db_exits_1_without_a_traceback(tmp_path: Path) -> None:
    """A ledger path in a missing directory is reported in one line, status 1."""
    result = _run("--db", str(tmp_path / "missing" / "x.db"), "parts")
    assert result.exit_code == 1
    assert "does not exist" in result.output
    assert "Traceback" not in result.output


def test_thread_db_variable_names_the_ledger(demo_db: str) -> None:
    """Without --db, THREAD_DB names the ledger."""
    result = _run("parts", "--json", env={"THREAD_DB": demo_db})
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["parts"][0]["serial"] == "BRG-000001"


def test_default_ledger_is_thread_db_in_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --db or THREAD_DB, the commands use ./thread.db."""
    monkeypatch.chdir(tmp_path)
    result = _run("demo", "--bearings", "3", "--json")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "thread.db").exists()
    assert "try: thread parts" in _run("demo", "--bearings", "3").output


def test_installed_command_end_to_end(tmp_path: Path) -> None:
    """The installed thread script fills a ledger named by THREAD_DB and reads it back."""
    script = Path(sys.executable).with_name("thread")
    if not script.exists():
        pytest.skip(f"no thread script beside {sys.executable}")
    env = {**os.environ, "THREAD_DB": str(tmp_path / "e2e.db")}

    def thread_(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(script), *args], capture_output=True, text=True, env=env,
                              timeout=120, check=False)

    filled = thread_("demo", "--bearings", "12", "--json")
    assert filled.returncode == 0, filled.stderr
    assert filled.stderr == ""
    listing = json.loads(thread_("parts", "--json").stdout)
    assert listing["count"] == 12 + json.loads(filled.stdout)["hubs"]
    story = thread_("history", "BRG-000012")
    assert story.returncode == 0, story.stderr
    assert "chain of" in story.stdout.splitlines()[-1]
    missing = thread_("history", "NOPE")
    assert (missing.returncode, missing.stdout) == (1, "")
    assert missing.stderr == "Error: part NOPE is not in this ledger; list the serials with: " \
                             "thread parts\n"


def test_every_demo_fact_has_a_readable_summary(demo_db: str) -> None:
    """Each kind of fact the demo records reads as a sentence, not as field=value pairs."""
    ledger = thread.open(demo_db)
    try:
        topics = {event.topic: summarize(event.fact) for _, event in ledger.scan()}
    finally:
        ledger.close()
    assert len(topics) >= 15
    for topic, line in topics.items():
        assert line, topic
        assert "=" not in line, (topic, line)
