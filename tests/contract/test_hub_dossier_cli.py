"""``thread dossier SERIAL --sites`` at a hub, ``thread verify-dossier --policy`` and ``thread
verify --policy``: a part made at one site and held at another, proved through both logs,
and every mirror derived again; a changed file, a policy it does not meet and a missing key
or policy are each one line; trace, genealogy and recall ``--sites``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import Clock, bearing
from test_hub_log import HUB_LOG_VKEY, _forward_all, _hub, _made_at_a_and_b, _plants
from test_site_mirror import HUB_VKEY, Site

from thread import facts as f
from thread.cli import main

pytestmark = pytest.mark.contract


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_a_hub_dossier_from_the_command_line(tmp_path: Path) -> None:
    """Written at the hub, verified with a tlog-policy file; refused when changed or when
    the policy asks for a witness that never cosigned."""
    hub_db = str(tmp_path / "hub.db")
    plants, ledger, mirror, _ = _made_at_a_and_b(hub_db, Clock(), tmp_path)
    ledger.close()
    mirror.close()
    policy = tmp_path / "policy.txt"
    policy.write_text("".join(f"log {p.verifier}\n" for p in plants)
                      + f"log {HUB_LOG_VKEY}\nwitness hub {HUB_VKEY}\nquorum hub\n")
    out_file = tmp_path / "C-1.hub-dossier.json"
    code, out = _run("--db", hub_db, "dossier", "C-1", "--sites", "-o", str(out_file))
    assert code == 0, out
    assert out.strip().endswith("2 events at acme.example/plant-1, 2 events at "
                                "acme.example/plant-2")
    code, out = _run("verify-dossier", str(out_file), "--policy", str(policy), "--json")
    assert code == 0, out
    assert [(s["origin"], s["versions"], s["witnesses"], s["complete"])
            for s in json.loads(out)["sites"]] == [
        ("acme.example/plant-1", 2, ["hub"], True), ("acme.example/plant-2", 2, ["hub"], True)]
    code, out = _run("verify-dossier", str(out_file), "--policy", str(policy))
    assert code == 0 and out.splitlines()[-1].startswith("verified: each site checkpoint")
    assert out.splitlines()[0].endswith(
        "; every event of the part there, as the site's subject map proves")
    changed = tmp_path / "changed.json"
    changed.write_bytes(out_file.read_bytes().replace(b'"version": 2', b'"version": 3', 1))
    code, out = _run("verify-dossier", str(changed), "--policy", str(policy))
    assert code == 1 and len(out.splitlines()) == 1 and out.startswith("NOT VERIFIED:")
    strict = tmp_path / "strict.txt"
    strict.write_text(policy.read_text().replace("quorum hub\n", "quorum none\n")
                      .replace("log " + plants[1].verifier + "\n", ""))
    code, out = _run("verify-dossier", str(out_file), "--policy", str(strict))
    assert code == 1 and "does not meet the policy: no listed log signed it" in out
    code, out = _run("--db", hub_db, "verify", "--policy", str(policy))
    assert code == 0, out
    assert [line.split(":")[0] for line in out.splitlines() if line.startswith("mirror")] == [
        "mirror of acme.example/plant-1", "mirror of acme.example/plant-2"]
    code, out = _run("--db", hub_db, "verify", "--policy", str(strict))
    assert code == 1 and ("NOT VERIFIED: mirror of acme.example/plant-2: its mirror checkpoint "
                          "does not meet the policy: no listed log signed it") in out
    code, out = _run("verify-dossier", str(out_file))
    assert code == 2 and "give --vkey (a dossier) or --policy (a hub dossier)" in out
    code, out = _run("--db", hub_db, "dossier", "NOPE", "--sites", "-o",
                     str(tmp_path / "x.json"))
    assert code == 1 and out.strip() == ("Error: part NOPE: no site checkpoint in the hub's "
                                         "signed log covers an event of it")
    for plant in plants:
        plant.ledger.close()


def test_trace_genealogy_and_recall_across_sites_from_the_command_line(tmp_path: Path) -> None:
    """``--sites`` answers per site at a hub; a serial no site holds is one line."""
    clock = Clock()
    plants = _plants(tmp_path, clock)
    hub_db = str(tmp_path / "hub.db")
    ledger, mirror, _ = _hub(hub_db, *plants)
    plants[0].write(1)
    plants[0].ledger.record(f.MachineRegistered(machine="GR-01", name="Grinder", kind="grinder"))
    plants[0].ledger.record(bearing("C-1"))
    plants[0].ledger.record(f.OperationPerformed(
        serial="C-1", operation="OP30", station="ST", machine="GR-01", operator="op",
        started_at=clock.now, ended_at=clock.now, cycle_time_s=60))
    plants[1].write(1)
    plants[1].ledger.record(bearing("C-1"))
    plants[1].ledger.record(bearing("A-1"))
    plants[1].ledger.record(f.ComponentInstalled(serial="A-1", component="C-1"))
    _forward_all(mirror, plants)
    ledger.close()
    mirror.close()
    code, out = _run("--db", hub_db, "trace", "C-1", "--sites")
    assert code == 0, out
    assert [line for line in out.splitlines() if line.startswith("== at")] == [
        "== at acme.example/plant-1", "== at acme.example/plant-2"]
    code, out = _run("--db", hub_db, "genealogy", "A-1", "--sites", "--json")
    assert code == 0, out
    [tree] = json.loads(out)
    assert tree["site"] == "acme.example/plant-2" and tree["nodes"][0]["key"] == "C-1"
    assert tree["elsewhere"] == {"C-1": ["acme.example/plant-1"]}
    code, out = _run("--db", hub_db, "recall", "--machine", "GR-01", "--from",
                     "2000-01-01T00:00:00Z", "--to", "2100-01-01T00:00:00Z", "--sites", "--json")
    assert code == 0, out
    [scope] = json.loads(out)
    assert scope["site"] == "acme.example/plant-1"
    assert [a["key"] for a in scope["affected"]] == ["C-1"]
    code, out = _run("--db", hub_db, "trace", "NOPE", "--sites")
    assert code == 1 and out.strip() == "Error: no site this hub mirrors holds NOPE"
    for plant in plants:
        plant.ledger.close()


def test_asking_a_ledger_that_is_no_hub_writes_nothing(tmp_path: Path) -> None:
    """``--sites`` and ``verify --policy`` on a plain ledger: one line, and no hub table is
    made in it (reading never writes)."""
    import sqlite3

    db = tmp_path / "plant.db"
    plant = Site(db, Clock())
    plant.write(1)
    plant.ledger.close()
    (tmp_path / "policy.txt").write_text("quorum none\n")
    code, out = _run("--db", str(db), "trace", "SN-1", "--sites")
    assert code == 1 and out.strip() == "Error: no site this hub mirrors holds SN-1"
    code, out = _run("--db", str(db), "verify", "--policy", str(tmp_path / "policy.txt"))
    assert code == 0, out
    tables = [name for name, in sqlite3.connect(db).execute(
        "SELECT name FROM sqlite_master WHERE name LIKE 'hub_%'")]
    assert tables == []
