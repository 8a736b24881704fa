"""Every entry point answers bad input with one line and a non-zero exit, never a traceback."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import thread
from thread.cli import main

BEARINGS = 8
WINDOW = ["--machine", "GR-01", "--from", "2026-01-01T00:00Z", "--to", "2027-01-01T00:00Z"]
#: The arguments each command that takes --as-of needs besides it.
AS_OF_COMMANDS = {
    "trace": ["BRG-000001"],
    "genealogy": ["HUB-000001"],
    "recall": WINDOW,
    "dhr": ["BRG-000001"],
    "fair": ["BRG-6204", "--revision", "A"],
    "investigate": ["--part-number", "BRG-6204"],
    "spc": ["process.vibration.mean", "--machine", "GR-02"],
    "capability": ["BRG-6204"],
    "alerts": [],
}
FULL_DISK = pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here")


def _run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), env={"THREAD_DB": None,
                                                    "THREAD_SIGNING_KEY_FILE": None})


def _one_line(result: Result, *, status: int = 1) -> str:
    """The error line of a refused command, after checking there was no traceback."""
    assert result.exit_code == status, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        repr(result.exception))
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines()
              if line.startswith(("Error: ", "NOT VERIFIED: "))]
    assert len(errors) == 1, result.stderr
    return errors[0]


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A demo ledger with a signed checkpoint, and the signing key's file."""
    folder = tmp_path_factory.mktemp("errors")
    db, key = str(folder / "demo.db"), folder / "ledger.key"
    for args in (["demo", "--bearings", str(BEARINGS)], ["keygen", "-o", str(key)],
                 ["checkpoint", "--key", str(key)]):
        result = _run("--db", db, *args)
        assert result.exit_code == 0, result.output
    return db, key


def test_every_command_that_takes_as_of_is_covered() -> None:
    """The --as-of cases below run on every command that has the option."""
    context = main.make_context("thread", ["parts"])
    having = {name for name in main.list_commands(context)
              if (command := main.get_command(context, name)) is not None
              and any(p.name == "as_of" for p in command.params)}
    assert having == set(AS_OF_COMMANDS)


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59-14:00"])
@pytest.mark.parametrize("command", sorted(AS_OF_COMMANDS))
def test_as_of_out_of_the_ledgers_range_is_one_line(signed: tuple[str, Path], command: str,
                                                    moment: str) -> None:
    """--as-of at either end of the calendar names the option, the value and the range."""
    db, _ = signed
    line = _one_line(_run("--db", db, command, *AS_OF_COMMANDS[command], "--as-of", moment),
                     status=2)
    assert f"'--as-of': {moment!r} is out of range; expected a time from " in line
    assert "1970-01-01T00:00Z to 2262-04-11T23:47Z" in line


def test_recall_window_from_year_1_to_year_9999_is_one_line(signed: tuple[str, Path]) -> None:
    """recall --from 0001-... --to 9999-... is refused at the first bound it cannot hold."""
    db, _ = signed
    line = _one_line(_run("--db", db, "recall", "--machine", "GR-01",
                          "--from", "0001-01-01T00:00:00Z", "--to", "9999-12-31T23:59:59Z"),
                     status=2)
    assert "'--from': '0001-01-01T00:00:00Z' is out of range" in line


def test_recall_window_ending_past_the_calendar_is_one_line(signed: tuple[str, Path]) -> None:
    """A --to the UTC conversion pushes past year 9999 is refused like any other bound."""
    db, _ = signed
    line = _one_line(_run("--db", db, "recall", "--machine", "GR-01",
                          "--from", "2026-01-01T00:00Z", "--to", "9999-12-31T23:59:59-14:00"),
                     status=2)
    assert "'--to': '9999-12-31T23:59:59-14:00' is out of range" in line


def test_recall_with_400_or_terms_answers(signed: tuple[str, Path]) -> None:
    """A predicate of 400 alternatives is evaluated, not a RecursionError."""
    db, _ = signed
    where = " or ".join(f"vibration.max > {n}" for n in range(400))
    result = _run("--db", db, "recall", *WINDOW, "--where", where, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["examined"] > 0


@pytest.mark.parametrize("where", ["(" * 5000 + "vibration.max > 4" + ")" * 5000,
                                   "not " * 5000 + "vibration.max > 4"])
def test_recall_with_a_predicate_nested_5000_deep_hits_a_stated_limit(
        signed: tuple[str, Path], where: str) -> None:
    """Nesting past the limit says the limit and the column, in one line of sane length."""
    db, _ = signed
    line = _one_line(_run("--db", db, "recall", *WINDOW, "--where", where))
    assert "more than 100 levels of parentheses and 'not' at column" in line
    assert len(line) < 400


def _output_args(db: str, key: Path, command: str, target: Path) -> list[str]:
    return {
        "dhr": ["--db", db, "dhr", "BRG-000001", "-o", str(target), "--format", "json"],
        "fair": ["--db", db, "fair", "BRG-6204", "--revision", "A", "-o", str(target),
                 "--format", "pdf"],
        "keygen": ["--db", db, "keygen", "-o", str(target)],
        "checkpoint": ["--db", db, "checkpoint", "--key", str(key), "-o", str(target)],
        "dossier": ["--db", db, "dossier", "BRG-000001", "-o", str(target)],
    }[command]


OUTPUT_COMMANDS = ["dhr", "fair", "keygen", "checkpoint", "dossier"]


@pytest.mark.parametrize("command", OUTPUT_COMMANDS)
def test_output_into_a_missing_folder_is_one_line_and_writes_nothing(
        signed: tuple[str, Path], tmp_path: Path, command: str) -> None:
    """-o into a folder that does not exist names the folder; the ledger is left as it was."""
    db, key = signed
    ledger = thread.open(db, create=False)
    before = ledger.checkpoints()
    ledger.close()
    target = tmp_path / "missing" / "out.file"
    line = _one_line(_run(*_output_args(db, key, command, target)))
    assert f"to {target}: the folder {target.parent} does not exist" in line
    assert not target.parent.exists()
    ledger = thread.open(db, create=False)
    assert ledger.checkpoints() == before
    ledger.close()


@FULL_DISK
@pytest.mark.parametrize("command", OUTPUT_COMMANDS)
def test_output_onto_a_full_disk_is_one_line(signed: tuple[str, Path], command: str) -> None:
    """-o /dev/full says the device is full (keygen: that it never writes over a file)."""
    db, key = signed
    line = _one_line(_run(*_output_args(db, key, command, Path("/dev/full"))))
    expected = ("/dev/full exists; keys are never overwritten" if command == "keygen"
                else "to /dev/full: No space left on device")
    assert expected in line


def test_keygen_onto_a_full_disk_leaves_no_key_file(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A key that cannot be written whole is not left half-written (nor its verifier key)."""
    def full(descriptor: int, data: object) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", full)
    key = tmp_path / "ledger.key"
    line = _one_line(_run("--db", str(tmp_path / "t.db"), "keygen", "--name", "plant",
                          "-o", str(key)))
    assert f"cannot write the signing key to {key}: No space left on device" in line
    assert sorted(tmp_path.iterdir()) == []


def test_verify_with_a_binary_checkpoint_file_is_one_line(signed: tuple[str, Path],
                                                          tmp_path: Path) -> None:
    """verify --checkpoint on a binary file says it is not a checkpoint note."""
    db, _ = signed
    binary = tmp_path / "note.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    line = _one_line(_run("--db", db, "verify", "--checkpoint", str(binary)), status=2)
    assert f"'--checkpoint': {binary} is not a checkpoint note: byte 128 is not UTF-8" in line


@pytest.mark.parametrize("nested", ["[" * 100_000 + "]" * 100_000,
                                    '{"format": ' * 100_000 + "1" + "}" * 100_000])
def test_verify_dossier_on_deeply_nested_json_is_one_line(tmp_path: Path, nested: str) -> None:
    """A dossier file nested 100,000 deep is refused as not a dossier, with exit status 1."""
    path = tmp_path / "deep.json"
    path.write_text(nested)
    for extra in ([], ["--json"]):
        result = _run("verify-dossier", str(path), "--vkey", "plant+0011aabb+AAAA", *extra)
        if extra:
            assert result.exit_code == 1
            assert json.loads(result.stdout)["problem"].startswith("its JSON nests deeper")
        else:
            assert "nests deeper than any thread-dossier/v2 file" in _one_line(result)


def test_control_characters_in_input_are_escaped_when_echoed(signed: tuple[str, Path],
                                                             tmp_path: Path) -> None:
    """A serial, a machine or a file name with terminal escapes is echoed escaped."""
    db, _ = signed
    for args in (["history", "BRG\x1b[2J"], ["trace", "BRG\x1b]0;owned\x07"],
                 ["recall", "--machine", "GR\u202e10", *WINDOW[2:]],
                 ["nosuch\x1b[31m"]):
        result = _run("--db", db, *args)
        assert result.exit_code != 0
        assert not any(c in result.output for c in "\x1b\x07\u202e"), result.output
        assert "\\x1b" in result.output or "\\u202e" in result.output
    written = _run("--db", db, "dhr", "BRG-000001", "-o", str(tmp_path / "d\x1b[8m.json"))
    assert written.exit_code == 0, written.output
    assert "\x1b" not in written.output and "d\\x1b[8m.json" in written.output
