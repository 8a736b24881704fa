"""A record's signatures read VERIFIED only against keys the reader pins on the command line;
the demo prints the keys of its signers."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from thread.cli import main


def _statuses(output: str) -> set[str]:
    record = json.loads(output)
    return {signature["status"] for signature in record["signatures"]}


def test_pinned_keys_verify_and_unpinned_ones_say_so(tmp_path: Path) -> None:
    """Without --signer-key no signature is VERIFIED; with the demo's keys every one is."""
    db = str(tmp_path / "thread.db")
    runner = CliRunner()
    filled = runner.invoke(main, ["--db", db, "demo", "--bearings", "12", "--json"])
    assert filled.exit_code == 0, filled.output
    keys = json.loads(filled.output)["signer_keys"]
    pins = [arg for signer, key in keys.items() for arg in ("--signer-key", f"{signer}={key}")]
    serial = "BRG-000001"
    plain = runner.invoke(main, ["--db", db, "dhr", serial, "--json"])
    assert plain.exit_code == 0, plain.output
    assert _statuses(plain.output) and "verified" not in _statuses(plain.output)
    pinned = runner.invoke(main, ["--db", db, "dhr", serial, "--json", *pins])
    assert pinned.exit_code == 0, pinned.output
    assert _statuses(pinned.output) == {"verified"}
    text = runner.invoke(main, ["--db", db, "demo", "--bearings", "12"]).output
    assert all(f"--signer-key {signer}={key}" in text for signer, key in keys.items())


def test_a_malformed_signer_key_is_one_line(tmp_path: Path) -> None:
    """A key that is not 64 hex digits is refused before anything is read."""
    result = CliRunner().invoke(main, ["--db", str(tmp_path / "none.db"), "dhr", "SN-1",
                                       "--signer-key", "qa=abc"])
    assert result.exit_code == 2
    assert "expected SIGNER=KEY with the signer's id and its Ed25519 public key as 64 hex" \
           in result.output
