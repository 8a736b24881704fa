"""A ledger this process may only read: a read-only file and directory, a read-only mount, a
PostgreSQL role that may only select. Reads answer (read models go elsewhere, said once);
writes fail in one line naming the ledger and why; nothing is ever written to it."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from click.testing import CliRunner
from conftest import Clock, drop_append_only_triggers, raw_sql
from read_plant import BAD_END, BAD_START, build, design

import thread
from thread import facts as f
from thread.bootstrap import read_models_file
from thread.cli import main
from thread.errors import NotALedger, ReadOnlyLedger

#: The thread command, run by a separate process.
CLI = "import sys; from thread.cli import main; sys.argv[0] = 'thread'; main()"
WINDOW = ["--from", BAD_START.isoformat(), "--to", BAD_END.isoformat()]


def reader_prefix() -> list[str]:
    """What makes a process honour file permissions: nothing, or for root, no CAP_DAC_OVERRIDE."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot make a file read-only to a process")
    return [setpriv, "--bounding-set=-dac_override"]


def run(prefix: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    """``thread ARGS`` in a process of its own, with THREAD_DB and THREAD_READ_DB unset."""
    env = {k: v for k, v in os.environ.items() if k not in ("THREAD_DB", "THREAD_READ_DB")}
    return subprocess.run([*prefix, sys.executable, "-c", CLI, *args], capture_output=True,
                          text=True, timeout=300, env=env, check=False)


def python(prefix: list[str], script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """A Python script in a process of its own."""
    return subprocess.run([*prefix, sys.executable, "-c", script, *args], capture_output=True,
                          text=True, timeout=300, check=False)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def one_line(text: str) -> str:
    """The single line of an error output (fails on a traceback or several lines)."""
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


@pytest.fixture
def site(tmp_path: Path, clock: Clock) -> Iterator[Path]:
    """A ledger file with a signed checkpoint (and one event after it), in a directory that,
    like the file, this test's reader processes cannot write."""
    directory = tmp_path / "site"
    directory.mkdir()
    path = directory / "plant.db"
    ledger = thread.open(str(path), clock=clock)
    build(ledger)
    ledger.close()
    key = tmp_path / "ledger.key"
    for args in (["keygen", "-o", str(key)], ["checkpoint", "--key", str(key)]):
        result = CliRunner().invoke(main, ["--db", str(path), *args], env={"THREAD_DB": None})
        assert result.exit_code == 0, result.output
    ledger = thread.open(str(path), clock=clock)
    ledger.record(f.MachineRegistered(machine="GR-9", name="Spare grinder", kind="grinder"))
    ledger.close()
    path.chmod(0o444)
    directory.chmod(0o555)
    prefix = reader_prefix()
    if python(prefix, "import sys; open(sys.argv[1], 'a')", str(path)).returncode == 0:
        pytest.skip("this system lets the reader process write a read-only file")
    yield path
    directory.chmod(0o755)
    path.chmod(0o644)


READS = (["trace", "B-014"], ["genealogy", "B-002", "--up"],
         ["recall", "--machine", "GR-1", *WINDOW], ["rebuild"], ["history", "B-000"],
         ["verify"], ["parts"])


def test_every_read_works_on_a_read_only_ledger_file(site: Path, tmp_path: Path) -> None:
    """trace, recall, rebuild, dhr, fair, verify, dossier answer; the file and its directory
    stay exactly as they were; where the read models went is said once."""
    before, listing = digest(site), sorted(os.listdir(site.parent))
    out = tmp_path / "out"
    out.mkdir()
    prefix = reader_prefix()
    records = (["dhr", "B-000", "-o", str(out / "dhr.json")],
               ["fair", "BRG-6204", "--revision", "A", "-o", str(out / "fair.json")],
               ["dossier", "B-000", "-o", str(out / "dossier.json")])
    for args in (*READS, *records):
        result = run(prefix, "--db", str(site), *args)
        assert result.returncode == 0, f"thread {' '.join(args)}: {result.stderr}"
        assert "Traceback" not in result.stderr
    assert digest(site) == before
    assert sorted(os.listdir(site.parent)) == listing  # no read models, no -wal or -shm
    trace = run(prefix, "--db", str(site), "trace", "B-014")
    assert "vibration: max 6 mm/s / threshold 4.5  EXCEEDED" in trace.stdout
    [notice] = [line for line in trace.stderr.splitlines() if "read models of" in line]
    assert str(site) in notice and "temporary file" in notice
    assert str(read_models_file(site)) in notice and "cannot be written" in notice
    temporary = Path(notice.split("temporary file ")[1].split(", deleted on close")[0])
    assert temporary.name == "reads.db" and not temporary.parent.exists()


def test_a_read_that_fails_on_a_read_only_ledger_says_so_in_one_line(site: Path) -> None:
    """An unknown serial on a read-only ledger is one line of error, never a traceback."""
    for args in (["trace", "NO-SUCH-1"], ["history", "NO-SUCH-1"], ["dhr", "NO-SUCH-1"]):
        result = run(reader_prefix(), "--db", str(site), *args)
        assert result.returncode == 1
        assert "NO-SUCH-1" in one_line(result.stderr.replace(_notice(result.stderr), ""))


def _notice(stderr: str) -> str:
    """The line saying where the read models went, if there is one."""
    return next((line for line in stderr.splitlines(keepends=True) if "read models of" in line),
                "")


def test_writes_to_a_read_only_ledger_file_fail_in_one_line(site: Path, tmp_path: Path) -> None:
    """A checkpoint or a fact names the ledger and why it cannot be written; nothing changes."""
    before = digest(site)
    prefix = reader_prefix()
    result = run(prefix, "--db", str(site), "checkpoint", "--key", str(tmp_path / "ledger.key"))
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert f"ledger {site} is read-only: the file is not writable; nothing was written" in line
    script = ("import sys, thread\n"
              "from thread import facts as f\n"
              "ledger = thread.open(sys.argv[1])\n"
              "try:\n"
              "    ledger.record(f.MachineRegistered(machine='GR-10', name='x', kind='grinder'))\n"
              "except thread.errors.ReadOnlyLedger as error:\n"
              "    print(error)\n")
    api = python(prefix, script, str(site))
    assert api.returncode == 0, api.stderr
    assert one_line(api.stdout) == (f"ledger {site} is read-only: the file is not writable; "
                                    "nothing was written")
    assert digest(site) == before


def test_a_reader_sees_the_commits_of_a_writer_that_has_the_ledger_open(
        site: Path, clock: Clock) -> None:
    """While a writer holds the file open, a reader that may not write reads its WAL too."""
    site.parent.chmod(0o755)
    site.chmod(0o644)
    writer = thread.open(str(site), clock=clock)
    try:
        writer.record(f.MachineRegistered(machine="GR-11", name="New grinder", kind="grinder"))
        site.chmod(0o444)
        site.parent.chmod(0o555)
        count = "import sys, thread; print(thread.open(sys.argv[1], create=False).count())"
        first = python(reader_prefix(), count, str(site))
        assert first.returncode == 0, first.stderr
        writer.record(f.MachineRegistered(machine="GR-12", name="New grinder", kind="grinder"))
        second = python(reader_prefix(), count, str(site))
        assert int(second.stdout) == int(first.stdout) + 1 == writer.count()
    finally:
        writer.close()


def test_a_read_only_mount(tmp_path: Path, clock: Clock) -> None:
    """On a file system mounted read-only, reads answer and a write says why it cannot."""
    if shutil.which("unshare") is None or subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "mount", "--bind", "-o", "ro",
             str(tmp_path), str(tmp_path)], capture_output=True, check=False).returncode != 0:
        pytest.skip("cannot mount a read-only file system here (needs unshare and mount)")
    path = tmp_path / "plant.db"
    ledger = thread.open(str(path), clock=clock)
    build(ledger, bearings=16)
    ledger.close()
    before = digest(path)
    mounted = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
               'mount --bind -o ro "$0" "$0" && exec "$@"', str(tmp_path)]
    trace = run(mounted, "--db", str(path), "trace", "B-014")
    assert trace.returncode == 0, trace.stderr
    assert "B-014" in trace.stdout and "temporary file" in _notice(trace.stderr)
    write = python(mounted, "import sys, thread\nfrom thread import facts as f\n"
                   "thread.open(sys.argv[1]).record(f.MachineRegistered(machine='M', name='M', "
                   "kind='grinder'))", str(path))
    assert "ReadOnlyLedger: ledger" in write.stderr
    assert "is read-only: it is on a read-only file system; nothing was written" in write.stderr
    assert digest(path) == before
    assert not read_models_file(path).exists()


def test_an_empty_file_is_not_a_ledger(tmp_path: Path) -> None:
    """A read never turns an empty (0-byte) file, or any other file, into a ledger."""
    empty = tmp_path / "empty.db"
    empty.touch()
    with pytest.raises(NotALedger, match=r"empty\.db is not a ledger: the file is empty"):
        thread.open(str(empty), create=False)
    result = CliRunner().invoke(main, ["--db", str(empty), "trace", "B-1"],
                                env={"THREAD_DB": None})
    assert result.exit_code == 1 and "is not a ledger: the file is empty" in result.output
    assert empty.stat().st_size == 0
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database\n" * 100)
    with pytest.raises(NotALedger, match="is not a ledger"):
        thread.open(str(notes), create=False)
    with pytest.raises(NotALedger, match="there is no ledger"):
        thread.open(str(tmp_path / "missing.db"), create=False)
    assert not (tmp_path / "missing.db").exists()
    thread.open(str(empty)).close()  # a command that writes may make it one
    assert empty.stat().st_size > 0


def test_byte_identical_copies_keep_one_origin(tmp_path: Path, clock: Clock) -> None:
    """Copies of one ledger, even one made before origins were stored, report one origin."""
    original = tmp_path / "plant.db"
    ledger = thread.open(str(original), clock=clock)
    build(ledger, bearings=16)
    ledger.close()
    legacy = tmp_path / "legacy.db"
    shutil.copyfile(original, legacy)
    drop_append_only_triggers(str(legacy))
    raw_sql(str(legacy), "DELETE FROM ledger_meta WHERE name = 'origin'")
    for source in (original, legacy):
        copies = [tmp_path / f"{source.stem}-{n}.db" for n in (1, 2)]
        for copy in copies:
            shutil.copyfile(source, copy)
        origins = []
        for copy in copies:
            result = CliRunner().invoke(main, ["--db", str(copy), "dhr", "B-000", "--format",
                                               "json"], env={"THREAD_DB": None})
            assert result.exit_code == 0, result.output
            opened = thread.open(str(copy), create=False)
            origins.append(opened.origin)
            assert opened.origin in result.output
            opened.close()
        assert origins[0] == origins[1]
        assert digest(copies[0]) == digest(copies[1])


def test_read_models_of_a_replaced_ledger_are_rebuilt(tmp_path: Path, clock: Clock) -> None:
    """A new ledger under an old name does not answer from the old one's read models."""
    path = tmp_path / "plant.db"
    old = thread.open(str(path), clock=clock)
    old.record(design("OLD", "Old bearing"))
    old.record(f.PartRegistered(serial="B-014", part_number="OLD", revision="A",
                                work_order="WO-0"))
    assert old.trace("B-014").part_number == "OLD"
    old.close()
    path.unlink()
    new = thread.open(str(path), clock=clock)  # longer than the old log, another origin
    try:
        build(new, bearings=16)
        assert new.trace("B-014").part_number == "BRG-6204"
        assert new.serials("OLD") == []
    finally:
        new.close()


# -- PostgreSQL ---------------------------------------------------------------------------


@pytest.fixture
def reader_url(ledger_url: str) -> Iterator[str]:
    """The ledger's URL for a new login role that may only SELECT in the ledger's schema."""
    parts = urlsplit(ledger_url)
    role = f"reader_{uuid.uuid4().hex[:10]}"
    admin = ledger_url.split("?")[0]
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE ROLE "{role}" LOGIN')
    try:
        yield ledger_url.replace(f"//{parts.username}@", f"//{role}@")
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP OWNED BY "{role}"')
            connection.execute(f'DROP ROLE "{role}"')


def _grant_select(ledger_url: str, role: str) -> None:
    schema = urlsplit(ledger_url).query.removeprefix("schema=")
    with psycopg.connect(ledger_url.split("?")[0], autocommit=True) as connection:
        connection.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"')
        connection.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO "{role}"')


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_a_role_that_may_only_select_reads_and_cannot_write(
        ledger_url: str, reader_url: str, clock: Clock, tmp_path: Path) -> None:
    """Trace, recall, rebuild, records and verification answer through a SELECT-only role;
    a write names the ledger and the role in one line."""
    ledger = thread.open(ledger_url, clock=clock)
    build(ledger, bearings=16)
    ledger.read_models.catch_up()  # the owner's read models, which the reader may not update
    origin = ledger.origin
    ledger.close()
    role = str(urlsplit(reader_url).username)
    with pytest.raises(thread.ConfigurationError) as refused_open:
        thread.open(reader_url, create=False)
    assert str(refused_open.value) == (f"cannot open ledger at {reader_url}: role {role} may "
                                       f"not read it (no USAGE on schema "
                                       f"{urlsplit(ledger_url).query.removeprefix('schema=')})")
    _grant_select(ledger_url, role)
    reader = thread.open(reader_url, create=False)
    try:
        assert reader.origin == origin
        assert reader.trace("B-014").part_number == "BRG-6204"
        assert reader.read_models.notice is not None
        assert "temporary file" in reader.read_models.notice
        scope = reader.recall_scope(machine="GR-1", start=BAD_START, end=BAD_END,
                                    where="vibration.max > 4.5")
        assert scope.serials == ["B-014"]
        assert reader.rebuild() == reader.count()
        with pytest.raises(ReadOnlyLedger) as refused:
            reader.record(f.MachineRegistered(machine="GR-9", name="x", kind="grinder"))
        assert str(refused.value) == (
            f"ledger {reader_url} is read-only: role {role} may only read it (no INSERT "
            f"privilege on {urlsplit(ledger_url).query.removeprefix('schema=')}.ledger_events); "
            "nothing was written")
    finally:
        reader.close()
    for args in (["trace", "B-014"], ["verify"],
                 ["dhr", "B-000", "-o", str(tmp_path / "dhr.json")]):
        result = CliRunner().invoke(main, ["--db", reader_url, *args], env={"THREAD_DB": None})
        assert result.exit_code == 0, result.output
    result = CliRunner().invoke(main, ["--db", reader_url, "keygen", "-o",
                                       str(tmp_path / "k.key")], env={"THREAD_DB": None})
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(main, ["--db", reader_url, "checkpoint", "--key",
                                       str(tmp_path / "k.key")], env={"THREAD_DB": None})
    assert result.exit_code == 1
    assert f"ledger {reader_url} is read-only: role {role}" in one_line(result.output)
    assert raw_sql(ledger_url, "SELECT COUNT(*) FROM ledger_checkpoints") == [(0,)]


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_a_missing_database_is_named_in_one_line(ledger_url: str) -> None:
    """A URL naming a database that does not exist says so at once, not after a pool timeout."""
    parts = urlsplit(ledger_url)
    missing = f"missing_{uuid.uuid4().hex[:8]}"
    url = f"{parts.scheme}://{parts.netloc}/{missing}"
    started = time.monotonic()
    with pytest.raises(thread.ConfigurationError) as refused:
        thread.open(url)
    assert time.monotonic() - started < 4
    assert str(refused.value) == f'cannot open ledger at {url}: database "{missing}" does not exist'
    result = CliRunner().invoke(main, ["--db", url, "trace", "B-1"], env={"THREAD_DB": None})
    assert result.exit_code == 1
    assert f'database "{missing}" does not exist' in one_line(result.output)
