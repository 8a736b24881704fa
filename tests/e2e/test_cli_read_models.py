"""``thread verify --read-models`` and ``thread trace --verified``: an edited read-model row is
named, and never shown to an auditor as evidence."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import Clock
from read_plant import build

import thread
from thread.bootstrap import read_models_file
from thread.cli import main


def run(*args: str) -> Result:
    """The command line, as a user runs it."""
    return CliRunner().invoke(main, list(args), env={"THREAD_DB": None})


@pytest.fixture
def plant_db(tmp_path: Path) -> str:
    """A ledger of the test plant, its read models caught up."""
    path = str(tmp_path / "plant.db")
    ledger = thread.open(path, clock=Clock())
    try:
        build(ledger)
        ledger.read_models.catch_up()
    finally:
        ledger.close()
    return path


def tamper(plant_db: str, statement: str) -> None:
    """Change the read models as anyone with SQL could."""
    reads = sqlite3.connect(read_models_file(plant_db))
    try:
        reads.execute(statement)
        reads.commit()
    finally:
        reads.close()


def test_verify_read_models_passes_on_intact_read_models(plant_db: str) -> None:
    """verify --read-models says how many rows it re-derived, and exits 0."""
    result = run("--db", plant_db, "verify", "--read-models")
    assert result.exit_code == 0, result.output
    assert "read models verified: " in result.output
    report = json.loads(run("--db", plant_db, "verify", "--read-models", "--json").output)
    assert report["ok"] and report["read_models"]["ok"] and report["read_models"]["rows"] > 0


def test_verify_read_models_names_an_edited_row(plant_db: str) -> None:
    """An edited metric: verify --read-models exits 1 naming table, key, found and expected;
    plain verify (the log only) still passes."""
    tamper(plant_db, "UPDATE read_metrics SET max = 1.0 WHERE name = 'vibration' AND max = 6.0")
    assert run("--db", plant_db, "verify").exit_code == 0
    result = run("--db", plant_db, "verify", "--read-models")
    assert result.exit_code == 1
    assert "NOT VERIFIED: read models: 1 problem" in result.stderr
    assert "read_metrics position " in result.stderr
    assert "name 'vibration': max is 1.0, the log gives 6.0" in result.stderr
    report = json.loads(run("--db", plant_db, "verify", "--read-models", "--json").output)
    assert not report["ok"]
    [finding] = report["read_models"]["findings"]
    assert (finding["table"], finding["key"]["name"]) == ("read_metrics", "vibration")
    assert (finding["expected"]["max"], finding["found"]["max"]) == (6.0, 1.0)


def test_trace_verified_shows_the_proved_story(plant_db: str) -> None:
    """trace --verified prints the story and says what was checked."""
    result = run("--db", plant_db, "trace", "B-014", "--verified")
    assert result.exit_code == 0, result.output
    assert "vibration: max 6 mm/s / threshold 4.5  EXCEEDED" in result.output
    assert "verified: every event's chain checked and each proved at its position" in (
        result.output)
    story = json.loads(run("--db", plant_db, "trace", "B-014", "--verified", "--json").output)
    assert story["verified"] and len(story["log_root"]) == 64


def test_trace_verified_refuses_an_edited_row_in_one_line(plant_db: str) -> None:
    """An edited read-model row: plain trace shows the edit, --verified refuses, naming it."""
    tamper(plant_db, "UPDATE read_metrics SET max = 1.0 WHERE name = 'vibration' AND max = 6.0")
    assert "vibration: max 1 mm/s" in run("--db", plant_db, "trace", "B-014").output
    result = run("--db", plant_db, "trace", "B-014", "--verified")
    assert result.exit_code == 1
    [line] = result.output.splitlines()
    assert line.startswith("Error: the read models disagree with the verified events: "
                           "read_metrics position ")
    assert "max is 1.0, the log gives 6.0" in line
