"""The auditor's verifier stands alone: it loads nothing of the storage layer."""

from __future__ import annotations

import subprocess
import sys

_CHECK = """
import sys
import thread.log.verify
loaded = sorted(m for m in sys.modules if m.split(".")[0] in
                {"eventsourcing", "psycopg", "sqlite3", "sqlalchemy", "msgpack", "pydantic"}
                or m.startswith(("thread.storage", "thread.ledger", "thread.bootstrap")))
print(",".join(loaded))
"""


def test_importing_the_verifier_loads_no_storage_or_database_code() -> None:
    """`import thread.log.verify` in a fresh interpreter pulls in no store, driver or ledger."""
    result = subprocess.run([sys.executable, "-c", _CHECK], capture_output=True, text=True,
                            check=True, timeout=60)
    assert result.stdout.strip() == ""
