"""The README's code and the examples run as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_readme_python_block_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The API example in README.md runs unchanged in an empty directory."""
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)
    assert blocks, "README.md has no python block"
    monkeypatch.chdir(tmp_path)
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {"__name__": "readme"})  # noqa: S102
    assert (tmp_path / "plant.db").exists()


def test_assembly_example_runs(tmp_path: Path) -> None:
    """examples/assembly.py builds a hub and prints its story."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "assembly.py"), str(tmp_path / "ex.db")],
        capture_output=True, text=True, check=True, timeout=120, env=dict(os.environ),
    )
    assert "record.signature-applied" in result.stdout
    assert "record.correction-recorded" in result.stdout
    assert "HUB-0001 components: {'BRG-1': 'inboard', 'BRG-2': 'outboard'}" in result.stdout


def test_bearing_investigation_example_runs(tmp_path: Path) -> None:
    """examples/bearing_investigation.py walks from the claim to the closed CAPA."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "bearing_investigation.py"),
         str(tmp_path / "investigation.db")],
        capture_output=True, text=True, check=True, timeout=300, env=dict(os.environ),
    )
    out = result.stdout
    assert "the failed bearing is BRG-" in out
    assert "finding 1: GR-02, bearings made" in out
    assert "the claimed bearing is in this finding" in out
    assert "CAPA-2026-014 closed: effective" in out
    assert "CAPA opened CAPA-2026-014" in out
    assert "recalled RC-2026-03" in out
