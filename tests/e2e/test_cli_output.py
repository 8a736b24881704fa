"""The text output reads right: one line per finding, numbers agree with their nouns, and
an empty recall scope claims no reduction."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import drop_append_only_triggers

import thread
from thread.cli import main

BEARINGS = 8
WINDOW = ["--machine", "GR-01", "--from", "2026-01-01T00:00Z", "--to", "2027-01-01T00:00Z"]


def _run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), env={"THREAD_DB": None})


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A demo ledger with one signed checkpoint, and the verifier key's file."""
    folder = tmp_path_factory.mktemp("output")
    db, key = str(folder / "demo.db"), folder / "ledger.key"
    for args in (["demo", "--bearings", str(BEARINGS)], ["keygen", "-o", str(key)],
                 ["checkpoint", "--key", str(key)]):
        result = _run("--db", db, *args)
        assert result.exit_code == 0, result.output
    return db, key.with_suffix(".vkey")


def test_verify_prints_every_finding_on_its_own_line(demo: tuple[str, Path],
                                                     tmp_path: Path) -> None:
    """A ledger with many bad events lists each finding once, one line each, in log order."""
    db = str(tmp_path / "tampered.db")
    Path(db).write_bytes(Path(demo[0]).read_bytes())
    drop_append_only_triggers(db)
    database = sqlite3.connect(db)
    for rowid, state in database.execute(
            "SELECT rowid, state FROM ledger_events LIMIT 12 OFFSET 20").fetchall():
        edited = bytearray(state)
        edited[-5] ^= 1
        database.execute("UPDATE ledger_events SET state = ? WHERE rowid = ?",
                         (bytes(edited), rowid))
    database.commit()
    database.close()
    result = _run("--db", db, "verify")
    assert result.exit_code == 1
    header, *findings = result.stderr.splitlines()
    count = re.fullmatch(r"NOT VERIFIED: (\d+) problems, in log order:", header)
    assert count is not None, header
    assert len(findings) == int(count.group(1)) > 12
    finding = re.compile(r"  (log position \d+[,:] |the log: )")
    assert [line for line in findings if not finding.match(line)] == []
    positions = [int(line.split()[2].rstrip(",:")) for line in findings
                 if line.startswith("  log position")]
    assert positions == sorted(positions)
    assert any("stored checkpoint at size" in line for line in findings)


def test_numbers_agree_with_their_nouns(demo: tuple[str, Path]) -> None:
    """1 level, 1 checkpoint, 1 signature: never "1 levels" or "problem(s)"."""
    db, vkey = demo
    up = _run("--db", db, "genealogy", "BRG-000001", "--up")
    assert up.exit_code == 0, up.output
    assert up.stdout.splitlines()[-1] == "BRG-000001 is contained in 1 subject over 1 level"
    verified = _run("--db", db, "verify", "--vkey", str(vkey))
    assert verified.exit_code == 0, verified.output
    assert ", 1 checkpoint, 1 signature checked; " in verified.stdout
    assert re.search(r"; \d+ electronic signatures checked against the signer registry; "
                     r"1 subject map derived again$", verified.stdout.rstrip()), verified.stdout
    recall = _run("--db", db, "recall", *WINDOW)
    assert re.search(r"serials? in scope of \d+ runs on GR-01", recall.stdout), recall.stdout


def test_an_empty_recall_scope_claims_no_reduction(demo: tuple[str, Path]) -> None:
    """No serial in scope: the naive count is shown, not "100.0% smaller"."""
    db, _ = demo
    result = _run("--db", db, "recall", *WINDOW, "--where", "vibration.max > 1000")
    assert result.exit_code == 0, result.output
    last = result.stdout.splitlines()[-1]
    assert last.startswith("0 serials in scope of ")
    assert "naive scope" in last and "smaller" not in last
    some = _run("--db", db, "recall", *WINDOW, "--where", "vibration.max > 0")
    assert "% smaller" in some.stdout.splitlines()[-1]


def test_parts_listing_agrees_with_each_parts_aggregate(demo: tuple[str, Path]) -> None:
    """thread parts (one pass over registrations and moves) says what ledger.part says."""
    db, _ = demo
    listed = json.loads(_run("--db", db, "parts", "--json").stdout)["parts"]
    ledger = thread.open(db, create=False)
    try:
        expected = [{"serial": serial, "part_number": (part := ledger.part(serial)).part_number,
                     "revision": part.revision, "location": part.location,
                     "quarantined": part.quarantined} for serial in ledger.parts()]
    finally:
        ledger.close()
    assert listed == expected
    assert {p["location"].split(" ")[0] for p in listed} >= {"in", "installed"}
