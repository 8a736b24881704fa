"""Keys and JSON through the command line: checkpoint checks its key every time, keygen
writes the verifier key beside the signing key, --vkey takes a file, verify --strict, and
every command takes --json."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from thread.cli import main

BEARINGS = 6


def _run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), env={"THREAD_DB": None,
                                                    "THREAD_SIGNING_KEY_FILE": None})


@pytest.fixture
def signed(tmp_path: Path) -> tuple[str, Path]:
    """A demo ledger checkpointed once with the key keygen wrote into ``tmp_path``."""
    db, key = str(tmp_path / "demo.db"), tmp_path / "ledger.key"
    for args in (["demo", "--bearings", str(BEARINGS)], ["keygen", "-o", str(key)],
                 ["checkpoint", "--key", str(key)]):
        result = _run("--db", db, *args)
        assert result.exit_code == 0, result.output
    return db, key


@pytest.mark.parametrize("content", ["garbage\n", "", "verifier"])
def test_checkpoint_checks_the_key_even_when_the_head_has_not_moved(
        signed: tuple[str, Path], content: str) -> None:
    """A garbage, empty or verifier key file fails although the last note could be reprinted."""
    db, key = signed
    bad = key.with_name("bad.key")
    bad.write_text(key.with_suffix(".vkey").read_text() if content == "verifier" else content)
    result = _run("--db", db, "checkpoint", "--key", str(bad))
    assert result.exit_code == 2, result.output
    assert "checkpoint\n" not in result.stdout  # the stored note is not printed again
    expected = {"garbage\n": "does not hold a signing key", "": "is empty",
                "verifier": "holds a verifier key, which checks signatures but cannot make "
                            "them"}[content]
    assert f"Invalid value for '--key': {bad} {expected}" in result.stderr


def test_checkpoint_with_an_unchanged_head_and_another_key_says_so(
        signed: tuple[str, Path], tmp_path: Path) -> None:
    """A valid key that did not sign the reprinted note is told so (and --json says it too)."""
    db, _ = signed
    other = tmp_path / "other.key"
    assert _run("--db", db, "keygen", "--name", "other", "-o", str(other)).exit_code == 0
    result = _run("--db", db, "checkpoint", "--key", str(other))
    assert result.exit_code == 0, result.output
    assert "which another key signed" in result.stderr
    as_json = json.loads(_run("--db", db, "checkpoint", "--key", str(other), "--json").stdout)
    assert as_json["signed_by_this_key"] is False


def test_keygen_writes_the_verifier_key_beside_the_signing_key(tmp_path: Path) -> None:
    """keygen -o k.key writes k.vkey (readable) beside k.key (0600) and never overwrites."""
    key = tmp_path / "k.key"
    result = _run("--db", str(tmp_path / "t.db"), "keygen", "-o", str(key), "--json")
    assert result.exit_code == 0, result.output
    written = json.loads(result.stdout)
    public = tmp_path / "k.vkey"
    assert written["verifier_key_file"] == str(public)
    assert public.read_text().strip() == written["verifier_key"]
    assert key.read_text().startswith("PRIVATE+KEY+")
    assert (key.stat().st_mode & 0o777, public.stat().st_mode & 0o044) == (0o600, 0o044)
    key.unlink()
    again = _run("--db", str(tmp_path / "t.db"), "keygen", "-o", str(key))
    assert again.exit_code == 1
    assert f"{public} exists; keys are never overwritten" in again.stderr
    assert not key.exists()


@pytest.mark.parametrize("command", ["verify", "verify-checkpoint", "verify-dossier"])
def test_vkey_takes_the_file_keygen_wrote(signed: tuple[str, Path], tmp_path: Path,
                                          command: str) -> None:
    """--vkey ledger.vkey verifies as --vkey with the key's text does."""
    db, key = signed
    vkey = str(key.with_suffix(".vkey"))
    note, dossier = tmp_path / "note", tmp_path / "dossier.json"
    assert _run("--db", db, "checkpoint", "--key", str(key), "-o", str(note)).exit_code == 0
    assert _run("--db", db, "dossier", "BRG-000001", "-o", str(dossier)).exit_code == 0
    args = {"verify": ["--db", db, "verify", "--vkey", vkey, "--strict"],
            "verify-checkpoint": ["verify-checkpoint", str(note), "--vkey", vkey],
            "verify-dossier": ["verify-dossier", str(dossier), "--vkey", vkey]}[command]
    result = _run(*args)
    assert result.exit_code == 0, result.output
    assert "verified: " in result.stdout


def test_vkey_that_is_neither_a_file_nor_a_key_is_one_line(signed: tuple[str, Path]) -> None:
    """A mistyped --vkey file name is not taken as a key."""
    db, _ = signed
    result = _run("--db", db, "verify", "--vkey", "ledger.vky")
    assert result.exit_code == 2
    assert "'ledger.vky' is neither a file nor a verifier key" in result.stderr


def test_verify_says_plainly_that_signatures_were_not_checked(signed: tuple[str, Path]) -> None:
    """Without --vkey the report says so on its own line; --strict makes it exit 1."""
    db, _ = signed
    plain = _run("--db", db, "verify")
    assert plain.exit_code == 0, plain.output
    assert ("signatures not checked: no --vkey was given, so 1 checkpoint was read without "
            "checking who signed it") in plain.stdout
    strict = _run("--db", db, "verify", "--strict")
    assert strict.exit_code == 1
    assert "NOT VERIFIED: signatures not checked: no --vkey was given" in strict.stderr
    report = json.loads(_run("--db", db, "verify", "--strict", "--json").stdout)
    assert (report["ok"], report["signatures_checked"]) == (False, 0)
    assert report["signatures_not_checked"].startswith("no --vkey was given")


def test_verify_strict_fails_a_ledger_without_a_checkpoint(tmp_path: Path) -> None:
    """--strict with --vkey still fails when no checkpoint exists to check."""
    db = str(tmp_path / "plain.db")
    assert _run("--db", db, "demo", "--bearings", "3").exit_code == 0
    assert _run("--db", db, "keygen", "-o", str(tmp_path / "k.key")).exit_code == 0
    result = _run("--db", db, "verify", "--strict", "--vkey", str(tmp_path / "k.vkey"))
    assert result.exit_code == 1
    assert "the ledger holds no checkpoint" in result.stderr


def _commands() -> list[tuple[str, click.Command]]:
    """Every command ``thread`` runs, the subcommands of groups (the adapters') included."""
    context = main.make_context("thread", ["parts"])
    found: list[tuple[str, click.Command]] = []
    for name in main.list_commands(context):
        command = main.get_command(context, name)
        assert command is not None, name
        if isinstance(command, click.Group):
            found += [(f"{name} {sub}", command.commands[sub]) for sub in command.commands]
        else:
            found.append((name, command))
    return found


@pytest.mark.parametrize(("name", "command"), _commands(), ids=lambda value: str(value))
def test_every_command_takes_json(name: str, command: click.Command) -> None:
    """As the README says: every command takes --json."""
    assert any("--json" in param.opts for param in command.params), name


def test_rebuild_json(signed: tuple[str, Path]) -> None:
    """rebuild --json reports the events read and each read model's position."""
    db, _ = signed
    result = _run("--db", db, "rebuild", "story", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["rebuilt"] == ["story"]
    assert report["events"] > 0
    assert {m["projection"]: m["behind"] for m in report["read_models"]}["story"] == 0


def test_follow_json_prints_json_lines_until_stopped(signed: tuple[str, Path]) -> None:
    """follow --json: a line when it starts, one when it stops (SIGTERM), all JSON."""
    db, _ = signed
    env = {k: v for k, v in os.environ.items() if k != "THREAD_DB"}
    process = subprocess.Popen(
        [sys.executable, "-c", "from thread.cli import main; main()", "--db", db, "follow",
         "--json", "--interval", "0.05"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        started = json.loads(process.stdout.readline())
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert started["following"] == str(Path(db).resolve())
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[-1]["stopped"] is True
    assert lines[-1]["total"] == sum(line["projected"] for line in lines[:-1])
    assert {m["projection"] for m in lines[-1]["read_models"]} >= {"story", "genealogy"}
