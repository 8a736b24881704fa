"""thread spc, thread capability and thread alerts as a quality engineer runs them on the demo
plant: GR-02's vibration chart raised its alert the day its spindle bearing began to fail."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import thread
from thread.cli import main
from thread.demo import fill

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The demo plant, filled once for the module."""
    path = str(tmp_path_factory.mktemp("quality") / "demo.db")
    ledger = thread.open(path)
    fill(ledger)
    ledger.close()
    return path


def _run(db: str, *args: str) -> str:
    result = CliRunner().invoke(main, ["--db", db, *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_spc_lists_the_violations_with_their_parts(demo_db: str) -> None:
    """thread spc prints limits and sigma method, and each violation with its part and event."""
    out = _run(demo_db, "spc", "process.vibration.mean", "--machine", "GR-02", "--phase1",
               "20", "--rules", "WE1")
    assert "i-mr chart of process.vibration.mean (machine GR-02)" in out
    assert "(average-moving-range)" in out and "WE1" in out and "BRG-" in out
    data = json.loads(_run(demo_db, "spc", "process.vibration.mean", "--machine", "GR-02",
                           "--phase1", "20", "--rules", "WE1", "--json"))
    first = next(v for v in data["violations"] if v["rule"] == "WE1")
    assert first["rule"] == "WE1" and first["index"] >= 20
    assert first["behind"][-1]["serial"].startswith("BRG-")


def test_a_bad_metric_is_one_line(demo_db: str) -> None:
    """A bad metric is one line naming what was expected, exit status 1."""
    result = CliRunner().invoke(main, ["--db", demo_db, "spc", "process.vibration"])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "expected process.NAME.STAT" in result.output


def test_capability_reports_per_machine_and_what_it_holds(demo_db: str,
                                                          tmp_path: Path) -> None:
    """thread capability prints Cpk per machine and writes the report as JSON."""
    out = _run(demo_db, "capability", "BRG-6204")
    assert "characteristic 1 Bore diameter" in out and "GR-02" in out and "HELD" in out
    target = tmp_path / "report.json"
    _run(demo_db, "capability", "BRG-6204", "--characteristic", "1", "-o", str(target))
    report = json.loads(target.read_text())
    assert [c["characteristic"] for c in report["characteristics"]] == ["1"]
    assert report["characteristics"][0]["overall"]["cpk"] > 0


def test_alerts_show_the_noisy_grinder_and_are_closed_signed(demo_db: str) -> None:
    """The demo's GR-02 alerts were raised at the fault's start and closed, signed."""
    data = json.loads(_run(demo_db, "alerts", "--json"))
    assert {c["chart"] for c in data["charts"]} == {
        "GR-01-VIBRATION", "GR-02-VIBRATION", "GR-03-VIBRATION", "BRG-6204-OP30-VIBRATION"}
    noisy = [a for a in data["alerts"] if a["key"] == "GR-02"]
    assert noisy and noisy[0]["raised_at"].startswith("2026-03-30")
    assert all(a["status"] == "closed" for a in noisy)
    assert all(a["closed"]["signed_by"] == "Abena Mensah (a.mensah)" for a in noisy)
    assert "closed" in _run(demo_db, "alerts", "--status", "closed")


def test_alerts_watch_check_ack_and_close_from_the_command_line(demo_db: str,
                                                                tmp_path: Path) -> None:
    """A chart watched from the command line; ack and close need a signer key and sign."""
    key = tmp_path / "q.key"
    _run(demo_db, "keygen", "-o", str(key), "--name", "q.eng")
    _run(demo_db, "alerts", "watch", "--chart", "BORE", "inspection.1", "--part-number",
         "BRG-6204", "--phase1", "50", "--rules", "WE1")
    assert "0 alerts raised" in _run(demo_db, "alerts", "check")
    data = json.loads(_run(demo_db, "alerts", "--json", "--status", "open"))
    alert = data["alerts"][0]["alert"]
    result = CliRunner().invoke(main, ["--db", demo_db, "alerts", "ack", alert, "--note", "x"])
    assert result.exit_code == 2 and "--signer-key" in result.output
    out = _run(demo_db, "alerts", "ack", alert, "--note", "looking", "--signer-key", str(key),
               "--printed-name", "Quinn Engineer")
    assert "signed by Quinn Engineer" in out
    _run(demo_db, "alerts", "close", alert, "--resolution", "false alarm", "--outcome",
         "false-alarm", "--signer-key", str(key), "--printed-name", "Quinn Engineer")
    closed = json.loads(_run(demo_db, "alerts", "--json", "--status", "closed"))
    assert alert in {a["alert"] for a in closed["alerts"]}
    _run(demo_db, "alerts", "stop", "BORE", "--reason", "test over")
    assert "stopped" in _run(demo_db, "alerts")
