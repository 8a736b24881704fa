"""``thread classify``, ``--policy``/``--identity`` and ``thread keyring`` from the command line:
a label recorded, a foreign reader shown that a fact exists but not what it says, a sealed
fact withheld from a reader without the keyring, a person's key shredded; every refusal is
one line with exit status 1."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import thread
from thread.access.policy import Policy
from thread.cli import main
from thread.domain import facts as f
from thread.storage.keyring import Keyring

T0 = datetime(2026, 3, 2, 6, tzinfo=UTC)
NAME = "Zebulon Quixote-Marchetti"
SECRET = "QZXV-SEEKER-GIMBAL-TORQUE"
FOREIGN = {"user": "f.martin", "roles": ["quality-engineer"], "citizenship": ["FR"],
           "country": "FR"}
US = {"user": "u.smith", "roles": ["auditor"], "us_person": True, "citizenship": ["US"],
      "country": "US"}
#: None of the caller's THREAD_* variables reach a command unless a test sets one.
CLEAN: dict[str, str | None] = {"THREAD_DB": None, "THREAD_POLICY": None,
                                "THREAD_IDENTITY": None, "THREAD_KEYRING": None}


def _run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env={**CLEAN, **(env or {})})


def _refused(result: Result) -> str:
    """The one line of a refusal (exit status 1, nothing on stdout)."""
    assert result.exit_code == 1, result.output
    assert result.stdout == "" and result.stderr.count("\n") == 1, result.output
    assert result.stderr.startswith("Error: ")
    return result.stderr.strip()


def _plant(db: str, keyring: Keyring | None = None, labels: tuple[str, ...] = ()) -> None:
    """A seeker design (labelled when ``labels`` are given), its part SN-1, and one
    operation on SN-1 by NAME whose name is the secret."""
    ledger = thread.open(db, keyring=keyring)
    ledger.record(f.RevisionReleased(part_number="SEEKER", revision="A", part_name="Seeker",
                                     drawing="D-1"))
    if labels:
        ledger.record(f.ExportClassified(kind="design", key="SEEKER", labels=labels,
                                         reason="CJ determination"))
    ledger.record(f.PartRegistered(serial="SN-1", part_number="SEEKER", revision="A"))
    ledger.record(f.OperationPerformed(
        serial="SN-1", operation=SECRET, station="ST", operator=NAME, started_at=T0,
        ended_at=T0.replace(minute=30), cycle_time_s=1800))
    ledger.close()


def _count(db: str) -> int:
    ledger = thread.open(db)
    try:
        return ledger.count()
    finally:
        ledger.close()


@pytest.fixture(autouse=True)
def _no_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Python API reads $THREAD_KEYRING too: only the keyrings a test names are used."""
    monkeypatch.delenv("THREAD_KEYRING", raising=False)


@pytest.fixture
def plant(tmp_path: Path) -> str:
    """An unlabelled plant on a fresh SQLite file, a copy of the default role policy beside
    it, and the identity files of a foreign and a US reader."""
    db = str(tmp_path / "thread.db")
    _plant(db)
    (tmp_path / "plant.cedar").write_text(Policy.default_text(), encoding="utf-8")
    for name, who in (("foreign", FOREIGN), ("us", US)):
        (tmp_path / f"{name}.json").write_text(json.dumps(who), encoding="utf-8")
    return db


def test_classify_labels_a_design_item(plant: str) -> None:
    """The text names the subject, the labels and the event; --json gives the labels as
    they stand; SN-1 inherits them."""
    result = _run("--db", plant, "classify", "design", "SEEKER", "ITAR:XI", "--reason",
                  "CJ determination")
    assert result.exit_code == 0, result.output
    assert result.output == "design SEEKER classified ITAR:XI (event 2)\n"
    result = _run("--db", plant, "classify", "design", "SEEKER", "ITAR:XI", "EAR:3A001",
                  "--reason", "CJ determination", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"kind": "design", "key": "SEEKER", "version": 3,
                                         "labels": ["EAR:3A001", "ITAR:XI"], "stated": True,
                                         "events": {}}
    ledger = thread.open(plant)
    assert ledger.classification("part", "SN-1").subject == ("EAR:3A001", "ITAR:XI")
    ledger.close()


@pytest.mark.parametrize("as_json", [[], ["--json"]], ids=["text", "json"])
def test_a_bad_label_is_one_line_and_writes_nothing(plant: str, as_json: list[str]) -> None:
    """ITAR:XXX is refused naming the label forms; the ledger holds as many events as
    before."""
    before = _count(plant)
    line = _refused(_run("--db", plant, "classify", "design", "SEEKER", "ITAR:XXX",
                         "--reason", "typo", *as_json))
    assert "expected an export-control label" in line and line.endswith("not 'ITAR:XXX'")
    assert _count(plant) == before


def test_a_foreign_reader_sees_that_a_fact_exists_not_what_it_says(plant: str) -> None:
    """Under the plant's policy, history of SN-1 shows each event withheld (ITAR:XI) to a
    French national, in text and JSON, and everything to a US person."""
    folder = Path(plant).parent
    assert _run("--db", plant, "classify", "design", "SEEKER", "ITAR:XI").exit_code == 0
    access = ["--db", plant, "--policy", str(folder / "plant.cedar")]
    result = _run(*access, "--identity", str(folder / "foreign.json"), "history", "SN-1")
    assert result.exit_code == 0, result.output
    assert "manufacturing.operation-performed withheld (ITAR:XI)" in result.stdout
    assert SECRET not in result.output and NAME not in result.output
    result = _run(*access, "--identity", str(folder / "foreign.json"), "history", "SN-1",
                  "--json")
    assert result.exit_code == 0, result.output
    events = json.loads(result.stdout)["events"]
    assert {e["topic"] for e in events} == {"record.withheld"}
    assert [e["fact"]["labels"] for e in events] == [["ITAR:XI"]] * 2
    assert SECRET not in result.stdout
    result = _run(*access, "--identity", str(folder / "us.json"), "history", "SN-1")
    assert result.exit_code == 0, result.output
    assert f"{SECRET} on ST by {NAME}" in result.stdout and "withheld" not in result.stdout
    with_env = _run("--db", plant, "history", "SN-1", "--json",
                    env={"THREAD_POLICY": str(folder / "plant.cedar"),
                         "THREAD_IDENTITY": str(folder / "foreign.json")})
    assert with_env.exit_code == 0 and SECRET not in with_env.stdout, with_env.output


@pytest.mark.parametrize("as_json", [[], ["--json"]], ids=["text", "json"])
def test_an_identity_without_a_policy_is_refused(plant: str, as_json: list[str]) -> None:
    """--identity alone means nothing: one line says it needs --policy."""
    identity = str(Path(plant).parent / "us.json")
    line = _refused(_run("--db", plant, "--identity", identity, "parts", *as_json))
    assert line == ("Error: --identity needs --policy (THREAD_POLICY): who is asking "
                    "matters only to a role policy")


@pytest.mark.parametrize(("content", "why"), [
    ("{not json", "Expecting property name"),
    ('{"user": 3}', 'expected a JSON object with a "user" string'),
    ('{"user": "u", "us_person": "yes"}', "us_person is 'yes'; expected true or false"),
    ('{"user": "u", "clearance": "secret"}', "unknown field 'clearance'"),
], ids=["bad JSON", "no user", "us_person", "unknown field"])
def test_a_malformed_identity_file_is_one_line(plant: str, content: str, why: str) -> None:
    """The refusal names the identity file and what is wrong with it."""
    folder = Path(plant).parent
    identity = folder / "reader.json"
    identity.write_text(content, encoding="utf-8")
    line = _refused(_run("--db", plant, "--policy", str(folder / "plant.cedar"),
                         "--identity", str(identity), "history", "SN-1", "--json"))
    assert line.startswith(f"Error: identity file {identity}: ") and why in line


def test_a_sealed_fact_is_withheld_from_a_reader_without_the_keyring(tmp_path: Path) -> None:
    """keyring label makes ITAR:XI's key (--keyring or THREAD_KEYRING, never twice); facts
    recorded with the keyring read withheld without it and in full with it."""
    db, keys = str(tmp_path / "thread.db"), tmp_path / "keys"
    result = _run("keyring", "label", "ITAR:XI", "--keyring", str(keys))
    assert result.exit_code == 0, result.output
    written = keys / "label-ITAR-XI.key"
    assert result.output == f"key of ITAR:XI written to {written} (readable by you only)\n"
    result = _run("keyring", "label", "EAR:3A001", "--json", env={"THREAD_KEYRING": str(keys)})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"label": "EAR:3A001",
                                         "file": str(keys / "label-EAR-3A001.key")}
    line = _refused(_run("keyring", "label", "ITAR:XI", "--keyring", str(keys)))
    assert line == f"Error: key file {written} exists; a key is never overwritten"
    line = _refused(_run("keyring", "label", "ITAR:XXX", "--keyring", str(keys), "--json"))
    assert line.endswith("not 'ITAR:XXX'")
    _plant(db, Keyring(keys), labels=("ITAR:XI",))
    for args in (["history", "SN-1"], ["history", "SN-1", "--json"]):
        result = _run("--db", db, *args)
        assert result.exit_code == 0, result.output
        assert "withheld" in result.stdout and "ITAR:XI" in result.stdout
        assert SECRET not in result.stdout and NAME not in result.stdout
    result = _run("--db", db, "history", "SN-1", env={"THREAD_KEYRING": str(keys)})
    assert result.exit_code == 0, result.output
    assert f"{SECRET} on ST by {NAME}" in result.stdout and "withheld" not in result.stdout


def test_shredding_a_person_s_key_erases_their_name(tmp_path: Path) -> None:
    """keyring shred destroys the operator's key (text and --json say which); history then
    reads (erased) where the name was; an unknown person is one line, exit status 1."""
    db, keys = str(tmp_path / "thread.db"), tmp_path / "keys"
    assert _run("keyring", "label", "ITAR:XI", "--keyring", str(keys)).exit_code == 0
    _plant(db, Keyring(keys), labels=("ITAR:XI",))
    other = "op-1042"
    Keyring(keys).person_key(other)
    with_keys = {"THREAD_KEYRING": str(keys)}
    [key_id] = [path.stem.removeprefix("person-") for path in keys.glob("person-*.key")
                if NAME in path.read_text()]
    result = _run("keyring", "shred", NAME, env=with_keys)
    assert result.exit_code == 0, result.output
    assert result.output == f"destroyed 1 key of {NAME}: {key_id}\n"
    result = _run("keyring", "shred", other, "--keyring", str(keys), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["person"] == other
    assert len(json.loads(result.stdout)["keys_destroyed"]) == 1
    result = _run("--db", db, "history", "SN-1", env=with_keys)
    assert result.exit_code == 0, result.output
    assert f"{SECRET} on ST by (erased)" in result.stdout and NAME not in result.stdout
    line = _refused(_run("keyring", "shred", NAME, env=with_keys))
    assert line == f"Error: the keyring {keys} holds no key of {NAME!r}; nothing was destroyed"
