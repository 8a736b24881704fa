"""Read models survive a killed process: the next catch-up continues with no gap or duplicate."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from conftest import Clock, raw_sql
from read_plant import build
from test_read_side import reads_of, snapshot

import thread

CATCH_UP = """
import sys, thread
ledger = thread.open(sys.argv[1], create=False)
ledger.read_models.page = 2
ledger.read_models.catch_up()
"""


def _position(url: str) -> int:
    rows = raw_sql(reads_of(url), "SELECT MIN(position) FROM read_positions")
    return int(str(rows[0][0] or 0))


def test_killed_catch_up_resumes_without_gaps_or_duplicates(ledger_url: str,
                                                            clock: Clock) -> None:
    """SIGKILL a real catch-up process mid-way, three times; the result equals a rebuild."""
    ledger = thread.open(ledger_url, clock=clock)
    build(ledger)
    head = ledger.count()
    ledger.read_models  # noqa: B018 - creates the tables before the first kill
    ledger.close()
    kills = 0
    seen: list[int] = []
    for _ in range(3):
        process = subprocess.Popen([sys.executable, "-c", CATCH_UP, ledger_url],
                                   env=dict(os.environ))
        start = _position(ledger_url)
        deadline = time.monotonic() + 60
        while _position(ledger_url) == start and process.poll() is None:
            assert time.monotonic() < deadline, "catch-up made no progress"
            time.sleep(0.002)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait()
        seen.append(_position(ledger_url))
    assert kills >= 1, "every catch-up finished before it could be killed"
    assert any(0 < position < head for position in seen)
    ledger = thread.open(ledger_url, clock=clock)
    try:
        ledger.read_models.catch_up()
        resumed = snapshot(ledger_url)
        assert len(resumed["read_story"]) == len({row[0] for row in resumed["read_story"]})
        ledger.rebuild()
        assert snapshot(ledger_url) == resumed
    finally:
        ledger.close()
