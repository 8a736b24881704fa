"""``thread audit-trail``: a part's trail as text and JSON, everything since a moment, and
bad input in one line."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import bearing, inspection, released_bearing
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import thread
from thread.cli import main
from thread.domain import facts as f
from thread.domain.signature import Signer

pytestmark = pytest.mark.e2e

START = datetime(2031, 5, 4, 8, 0, tzinfo=UTC)


def run(*args: str) -> Result:
    """The command line, as a user runs it."""
    return CliRunner().invoke(main, list(args), env={"THREAD_DB": None})


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A ledger with a corrected inspection, a signed disposition, a refused read and a
    read of controlled data on SN-1, one minute apart from START."""
    path = str(tmp_path_factory.mktemp("audit") / "thread.db")
    ticks = iter(range(1000))
    ledger = thread.open(path, actor="tester",
                         clock=lambda: START + timedelta(minutes=next(ticks)))
    ledger.record(released_bearing())
    ledger.record(bearing("SN-1"))
    ledger.record(bearing("SN-2"))
    ledger.record(inspection("SN-1", 19.985))
    ledger.correct(inspection("SN-1", 19.995), corrects=2, reason="gauge re-zeroed",
                   actor="m.ruiz")
    ledger.record(f.NonConformanceOpened(serial="SN-1", non_conformance="NC-1",
                                         description="bore undersize"))
    ledger.record(f.DispositionRecorded(serial="SN-1", non_conformance="NC-1",
                                        decision="use-as-is", rationale="within function"),
                  sign=Signer("qe-4", "Dana Quality", Ed25519PrivateKey.generate()))
    ledger.record(f.AccessAttemptRefused(signer="j.doe", action="read", what="trace",
                                         kind="part", key="SN-1", detail="not cleared"))
    ledger.record(f.ControlledDataRead(signer="a.auditor", kind="part", key="SN-1",
                                       view="history", labels=("EAR:9E003",)))
    ledger.close()
    return path


def test_the_text_has_four_sections_with_when_who_and_what(db: str) -> None:
    """Corrections, signatures, refused attempts and reads, each line with time and person."""
    result = run("--db", db, "audit-trail", "SN-1")
    assert result.exit_code == 0, result.output
    out = result.output
    for heading in ("Corrections (1)", "Signatures (1)", "Refused attempts (1)",
                    "Reads of controlled data (1)"):
        assert f"\n{heading}\n" in out
    assert ("2031-05-04 08:04:00  m.ruiz  part SN-1 v2 quality.inspection-recorded replaced by v3, "
            "because: gauge re-zeroed") in out
    assert '      verdict: "fail" -> "pass"' in out
    assert "Dana Quality (qe-4)  approval of part SN-1 v6 quality.disposition-recorded" in out
    assert "j.doe  read trace on part SN-1 refused: not cleared" in out
    assert "a.auditor  read part SN-1 through history (EAR:9E003)" in out
    other = run("--db", db, "audit-trail", "SN-2")
    assert other.exit_code == 0 and other.output.count("  none") == 4, other.output


def test_json_and_since(db: str) -> None:
    """--json gives the typed trail; --since keeps only what was recorded from then on."""
    result = run("--db", db, "audit-trail", "SN-1", "--json")
    assert result.exit_code == 0, result.output
    trail = json.loads(result.output)
    assert (trail["kind"], trail["key"], trail["since"]) == ("part", "SN-1", None)
    [correction] = trail["corrections"]
    assert correction["reason"] == "gauge re-zeroed"
    assert {"field": "measured", "old": 19.985, "new": 19.995} in correction["changes"]
    assert trail["signatures"][0]["printed_name"] == "Dana Quality"
    since = run("--db", db, "audit-trail", "--since", "2031-05-04T08:05:00Z", "--json")
    assert since.exit_code == 0, since.output
    later = json.loads(since.output)
    assert later["corrections"] == [] and len(later["signatures"]) == 1
    assert len(later["refusals"]) == 1 and len(later["reads"]) == 1
    text = run("--db", db, "audit-trail", "--since", "2031-05-04T08:05:00Z").output
    assert text.startswith("Audit trail since 2031-05-04 08:05:00 UTC\n")


@pytest.mark.parametrize("args", [[], ["SN-1", "--since", "2031-05-04T08:00:00Z"],
                                  ["SN-1", "--lot", "L-1"]])
def test_exactly_one_of_serial_lot_or_since(db: str, args: list[str]) -> None:
    """Neither, or two of them, is a usage error in one line."""
    result = run("--db", db, "audit-trail", *args)
    assert result.exit_code == 2
    assert "Error: give one of SERIAL, --lot LOT or --since TIME\n" in result.output


def test_an_unknown_serial_is_one_line(db: str, tmp_path: Path) -> None:
    """An unknown serial: one line naming it, exit status 1, no traceback."""
    result = run("--db", db, "audit-trail", "NOPE")
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert result.output.startswith("Error: part NOPE is not in this ledger; list the serials")
