"""``thread serve`` as a user runs it: a real process answering on a loopback port until
SIGTERM, and bad tokens or a policy without tokens refused in one line."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from click.testing import CliRunner

import thread
from thread import facts as f
from thread.cli import main

PROGRAM = "from thread.cli import main; main()"


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_answers_until_sigterm(tmp_path: Path) -> None:
    """A part registered over HTTP with a bearer token is in the ledger file afterwards."""
    db = tmp_path / "plant.db"
    ledger = thread.open(db)
    ledger.record(f.RevisionReleased(part_number="P", revision="A", part_name="P",
                                     drawing="D"))
    ledger.close()
    tokens = tmp_path / "tokens.json"
    tokens.write_text(json.dumps({"writer-token-000000": {"user": "mes"}}))
    port = _port()
    server = subprocess.Popen([sys.executable, "-c", PROGRAM, "--db", str(db), "serve",
                               "--port", str(port), "--tokens", str(tokens)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.post(f"http://127.0.0.1:{port}/facts", headers={
                    "Authorization": "Bearer writer-token-000000"}, json={
                    "topic": "manufacturing.part-registered",
                    "fact": {"serial": "SN-1", "part_number": "P", "revision": "A"}})
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.poll() is None
                time.sleep(0.1)
        assert answer.status_code == 201
        assert httpx.get(f"http://127.0.0.1:{port}/parts/SN-1").status_code == 401
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=15)
    _, errors = server.communicate()
    assert server.returncode in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it took
    assert b"Traceback" not in errors
    ledger = thread.open(db)
    assert [e.actor for e in ledger.history("SN-1")] == ["mes"]
    ledger.close()


def test_bad_tokens_and_a_policy_without_tokens_are_one_line(tmp_path: Path) -> None:
    """A short token, a file that is not JSON, and --policy without --tokens."""
    short, broken = tmp_path / "short.json", tmp_path / "broken.json"
    short.write_text(json.dumps({"abc": {"user": "x"}}))
    broken.write_text("{")
    policy = tmp_path / "roles.cedar"
    policy.write_text('permit (principal, action, resource);\n')
    db = str(tmp_path / "plant.db")
    for args, words in (
            (["serve", "--tokens", str(short)], "a token of 3 characters; expected at least 16"),
            (["serve", "--tokens", str(broken)], f"tokens file {broken}:"),
            (["--policy", str(policy), "serve"], "--policy needs --tokens")):
        result = CliRunner().invoke(main, ["--db", db, *args])
        assert result.exit_code == 1 and words in result.output
        assert len(result.output.strip().splitlines()) == 1
