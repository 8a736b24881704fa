"""``thread signer``: key files under a passphrase, the founding administrator, registration,
revocation, lock-out and unlocking from the command line; each refusal is one line."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from thread.cli import main

ADMIN, OSEI = "admin-pass-1", "osei-pass-1"


def _run(db: str, *args: str, given: str = "") -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--db", db, *args], input=given)
    return result.exit_code, result.output


def test_the_registry_from_the_command_line(tmp_path: Path) -> None:
    """Keys, founding, adding, a wrong passphrase, revocation and the list, end to end."""
    db = str(tmp_path / "thread.db")
    admin_key, osei_key = str(tmp_path / "admin.key"), str(tmp_path / "osei.key")
    code, out = _run(db, "signer", "key", "admin", "-o", admin_key, given=f"{ADMIN}\n{ADMIN}\n")
    assert code == 0, out
    code, out = _run(db, "signer", "key", "k.osei", "-o", osei_key, given=f"{OSEI}\n{OSEI}\n")
    assert code == 0, out
    code, out = _run(db, "signer", "key", "k.osei", "-o", osei_key, given=f"{OSEI}\n{OSEI}\n")
    assert code == 1 and "never overwritten" in out
    admin = ["--as", "admin", "--key", admin_key]
    code, out = _run(db, "signer", "add", "k.osei", "--name", "Kwame Osei", "--role",
                     "quality-engineer", "--public-key", osei_key + ".pub", *admin,
                     given=f"{ADMIN}\n")
    assert code == 1 and "registry is empty" in out, out
    code, out = _run(db, "signer", "add", "admin", "--name", "Ada Admin", "--role",
                     "administrator", "--public-key", admin_key + ".pub", *admin,
                     given=f"{ADMIN}\n")
    assert code == 0, out
    code, out = _run(db, "signer", "add", "k.osei", "--name", "Kwame Osei", "--role",
                     "quality-engineer", "--public-key", osei_key + ".pub", *admin,
                     given="not the passphrase\n")
    assert code == 1 and out.strip().endswith("the passphrase does not open admin.key"), out
    code, out = _run(db, "signer", "add", "k.osei", "--name", "Kwame Osei", "--role",
                     "quality-engineer", "--public-key", osei_key + ".pub", *admin,
                     given=f"{ADMIN}\n")
    assert code == 0, out
    code, out = _run(db, "signer", "revoke", "k.osei", "--reason", "left", *admin,
                     given=f"{ADMIN}\n")
    assert code == 0, out
    code, out = _run(db, "signer", "list", "--json")
    listed = {a["signer"]: a for a in json.loads(out)}
    assert listed["k.osei"]["keys"][0]["ended_because"] == "revoked"
    assert listed["admin"]["failures"] == 0  # the session opened since reset the count
    code, out = _run(db, "verify", "--json")
    assert code == 0 and json.loads(out)["event_signatures_checked"] == 3, out


def test_three_wrong_passphrases_lock_until_unlocked(tmp_path: Path) -> None:
    """An administrator who mistypes three times is locked; another administrator unlocks."""
    db = str(tmp_path / "thread.db")
    keys = {}
    for name, word in (("admin", ADMIN), ("admin2", OSEI)):
        keys[name] = str(tmp_path / f"{name}.key")
        assert _run(db, "signer", "key", name, "-o", keys[name], given=f"{word}\n{word}\n")[0] == 0
    assert _run(db, "signer", "add", "admin", "--name", "Ada Admin", "--role", "administrator",
                "--public-key", keys["admin"] + ".pub", "--as", "admin", "--key", keys["admin"],
                given=f"{ADMIN}\n")[0] == 0
    assert _run(db, "signer", "add", "admin2", "--name", "Bo Admin", "--role", "administrator",
                "--public-key", keys["admin2"] + ".pub", "--as", "admin", "--key",
                keys["admin"], given=f"{ADMIN}\n")[0] == 0
    outputs = [_run(db, "signer", "roles", "admin2", "--role", "administrator", "--role",
                    "auditor", "--as", "admin", "--key", keys["admin"], given="typo\n")
               for _ in range(3)]
    assert [code for code, _ in outputs] == [1, 1, 1]
    assert "now locked" in outputs[-1][1]
    code, out = _run(db, "signer", "list")
    assert "LOCKED" in out
    code, out = _run(db, "signer", "unlock", "admin", "--reason", "identity checked",
                     "--as", "admin2", "--key", keys["admin2"], given=f"{OSEI}\n")
    assert code == 0, out
    code, out = _run(db, "signer", "roles", "admin2", "--role", "administrator", "--role",
                     "auditor", "--as", "admin", "--key", keys["admin"], given=f"{ADMIN}\n")
    assert code == 0, out
