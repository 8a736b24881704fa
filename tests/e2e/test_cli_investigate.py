"""``thread investigate``: findings as text and JSON, pictures, and the corrective loop with
``--act``, each step signed; bad input is one line and writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from PIL import Image

import thread
from thread.cli import main
from thread.demo.reliability import PART_NUMBER, Cause, plant
from thread.domain import facts as f

pytestmark = pytest.mark.e2e


def run(*args: str, stdin: str | None = None) -> Result:
    """The command line, as a user runs it."""
    return CliRunner().invoke(main, list(args), env={"THREAD_DB": None}, input=stdin)


@pytest.fixture(scope="module")
def plant_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    simulated = plant(21, weeks=10, per_week=12, cause=Cause("M-02", 3, 5, "spindle_vibration"))
    path = str(tmp_path_factory.mktemp("investigate") / "plant.db")
    ledger = thread.open(path, clock=lambda: simulated.now)
    with ledger.batch(actor="simulation", source="reliability") as batch:
        for index, (fact, at) in enumerate(simulated.facts):
            batch.record(fact, occurred_at=at, source_record_id=str(index))
    ledger.read_models.catch_up()
    ledger.close()
    return path


def test_the_findings_as_json_keep_the_names_of_the_issue(plant_db: str) -> None:
    """The findings as json keep the names of the issue."""
    result = run("--db", plant_db, "investigate", "--part-number", PART_NUMBER, "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert found["groups_tested"] > 100
    top = found["findings"][0]
    for name in ("machine", "start", "end", "failures", "unit_hours", "rate", "rate_ratio",
                 "ci_low", "ci_high", "p_value", "q_value", "weibull", "parameters", "serials"):
        assert name in top
    assert {"shape", "scale"} <= set(top["weibull"])
    assert {"name", "inside", "outside", "difference"} <= set(top["parameters"][0])
    assert top["machine"] == "M-02"
    assert top["start"].endswith("Z") or top["start"].endswith("+00:00")
    assert top["trace"]["key"] == top["representative"]


def test_the_text_names_the_finding_and_starting_from_a_serial(plant_db: str) -> None:
    """The text names the finding and starting from a serial."""
    found = json.loads(run("--db", plant_db, "investigate", "--part-number", PART_NUMBER,
                           "--json").output)
    failed = found["findings"][0]["failed"][0]
    result = run("--db", plant_db, "investigate", "--serial", failed)
    assert result.exit_code == 0, result.output
    assert "1. M-02, parts made" in result.output
    assert f"{failed} is one of this finding's serials" in result.output
    assert "condition.spindle_vibration" in result.output
    assert "warranty view" in result.output


def test_bad_input_is_one_line(plant_db: str) -> None:
    """Bad input is one line."""
    result = run("--db", plant_db, "investigate", "--part-number", "NOPE")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: no serial of part number 'NOPE' was made in this ledger"]
    result = run("--db", plant_db, "investigate")
    assert result.exit_code == 2
    assert "give --part-number or --serial" in result.output
    result = run("--db", plant_db, "investigate", "--part-number", PART_NUMBER, "--act")
    assert result.exit_code == 2
    assert "--signer-key and --printed-name" in result.output


def test_act_walks_the_corrective_loop_signed(plant_db: str, tmp_path: Path) -> None:
    """Act walks the corrective loop signed."""
    key = tmp_path / "q.engineer.key"
    assert run("keygen", "--name", "q.engineer", "-o", str(key)).exit_code == 0
    # refusing every step writes nothing but the effectiveness check's report
    declined = run("--db", plant_db, "investigate", "--part-number", PART_NUMBER, "--act",
                   "--signer-key", str(key), "--printed-name", "Quinn Engineer",
                   stdin="n\nn\nn\nn\n")
    assert declined.exit_code == 0, declined.output
    ledger = thread.open(plant_db)
    before = ledger.count()
    ledger.close()
    result = run("--db", plant_db, "investigate", "--part-number", PART_NUMBER, "--act",
                 "--signer-key", str(key), "--printed-name", "Quinn Engineer", "--capa",
                 "CAPA-9", "--limit", "spindle_vibration=3.5", "--maintenance",
                 "replace the spindle bearing", "--yes", "--plots", str(tmp_path / "plots"))
    assert result.exit_code == 0, result.output
    assert "CAPA-9 opened on" in result.output
    assert "spindle_vibration limit of M-02 is now 3.5 mm/s" in result.output
    assert "effectiveness:" in result.output
    pictures = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert pictures == sorted(f"{PART_NUMBER}-{name}.{suffix}"
                              for name in ("nevada", "rates", "weibull", "before-after")
                              for suffix in ("png", "svg"))
    for picture in (tmp_path / "plots").glob("*.png"):
        with Image.open(picture) as image:
            assert image.size[0] > 800
    ledger = thread.open(plant_db)
    try:
        assert ledger.count() > before
        assert ledger.machine("M-02").limits == {"spindle_vibration": 3.5}
        found = ledger.failure_patterns(part_number=PART_NUMBER)
        serial = found.findings[0].failed[0]
        history = [e.fact for e in ledger.history(serial)]
        assert any(isinstance(x, f.CorrectiveActionOpened) and x.capa == "CAPA-9"
                   for x in history)
        assert any(isinstance(x, f.Recalled) for x in history)
        names = {x.printed_name for x in history if isinstance(x, f.SignatureApplied)}
        assert names == {"Quinn Engineer"}
        trace = run("--db", plant_db, "trace", serial)
        assert "CAPA-9" in trace.output
    finally:
        ledger.close()
