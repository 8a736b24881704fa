"""What a command loads when it runs: ``thread parts`` opens the ledger without SQLAlchemy,
the read models, the records or the adapters."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from thread.cli import main

_RUN = """
import json, sys
from thread.cli import main
try:
    main(sys.argv[1:], standalone_mode=False)
finally:
    print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def test_parts_on_a_ledger_loads_no_sqlalchemy_read_side_or_adapters(tmp_path: Path) -> None:
    """`thread parts` lists the demo's parts having loaded the ledger and nothing more."""
    db = str(tmp_path / "demo.db")
    filled = CliRunner().invoke(main, ["--db", db, "demo", "--bearings", "4"])
    assert filled.exit_code == 0, filled.output
    result = subprocess.run([sys.executable, "-c", _RUN, "--db", db, "parts"],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "BRG-000004" in result.stdout
    loaded = json.loads(result.stderr.splitlines()[-1])
    assert "thread.ledger" in loaded
    assert [m for m in loaded if m.split(".")[0] in ("sqlalchemy", "thread_adapters")
            or m.startswith(("thread.read.models", "thread.read.queries", "thread.records",
                             "thread.demo"))] == []
