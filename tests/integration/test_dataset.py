"""The benchmark dataset generator: reproducible, deep, dense, idempotent and resumable."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import thread
from thread.ledger import Ledger

ROOT = Path(__file__).resolve().parents[2]
UNITS = 2
PARTS = 31 * UNITS


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dataset", ROOT / "benchmarks" / "dataset.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["dataset"] = module
    spec.loader.exec_module(module)
    return module


dataset = _load()


def fill(path: Path, parts: int = PARTS, **options: Any) -> dict[str, Any]:
    summary: dict[str, Any] = dataset.fill(str(path), parts, 7, progress=False, **options)
    return summary


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    path = tmp_path_factory.mktemp("dataset") / "plant.db"
    probes = path.with_name("plant.db.probes.json")
    return path, dataset.fill(str(path), PARTS, 7, progress=False, probes_file=probes)


@pytest.fixture
def ledger(filled: tuple[Path, dict[str, Any]]) -> Iterator[Ledger]:
    opened = thread.open(str(filled[0]), create=False)
    yield opened
    opened.close()


def test_same_seed_same_ledger(tmp_path: Path, ledger: Ledger) -> None:
    """Two runs with one seed write identical events: the same tree head."""
    fill(tmp_path / "again.db")
    other = thread.open(str(tmp_path / "again.db"), create=False)
    try:
        assert other.tree_head() == ledger.tree_head()
    finally:
        other.close()


def test_five_level_genealogy(filled: tuple[Path, dict[str, Any]], ledger: Ledger) -> None:
    """Every drive unit is an as-built tree five levels deep, down to detail parts."""
    top = filled[1]["probes"]["levels"][0]["serials"][0]
    level, frontier = 1, [top]
    while True:
        below = [child for serial in frontier for child in ledger.part(serial).components]
        if not below:
            break
        for child in below:
            assert ledger.part(child).installed_in in frontier
        level, frontier = level + 1, below
    assert level == 5
    assert len(frontier) == 16
    assert all(ledger.part(leaf).materials for leaf in frontier)


def test_about_ten_events_per_part(filled: tuple[Path, dict[str, Any]], ledger: Ledger) -> None:
    """At least ten events per part in all, and nearly as many on the parts' own chains."""
    parts = ledger.parts()
    assert len(parts) >= PARTS
    assert filled[1]["events"] == ledger.count() >= 10 * PARTS
    on_parts = sum(len(ledger.history(serial)) for serial in parts)
    assert on_parts / len(parts) >= 9.0


def test_rerun_writes_nothing(tmp_path: Path) -> None:
    """Running again with the same seed and parts adds no event."""
    path = tmp_path / "plant.db"
    first = fill(path)
    second = fill(path)
    assert second["events_written"] == 0
    assert second["events"] == first["events"]


def test_more_parts_extend_the_same_plant(tmp_path: Path) -> None:
    """A run for one unit, then for two, holds the same facts as a run for two."""
    fill(tmp_path / "grown.db", PARTS // 2)
    fill(tmp_path / "grown.db", PARTS)
    fill(tmp_path / "fresh.db", PARTS)
    grown = thread.open(str(tmp_path / "grown.db"), create=False)
    fresh = thread.open(str(tmp_path / "fresh.db"), create=False)
    try:
        assert sorted(grown.parts()) == sorted(fresh.parts())
        assert grown.count() == fresh.count()
        for serial in fresh.parts():  # signatures cover recorded times, which differ
            assert _facts(grown, serial) == _facts(fresh, serial), serial
        for machine in ("GRD-02", "FAL-01"):
            assert ([e.fact for e in grown.history_of("machine", machine)]
                    == [e.fact for e in fresh.history_of("machine", machine)])
    finally:
        grown.close()
        fresh.close()


def _facts(ledger: Ledger, serial: str) -> list[object]:
    return [(event.fact, event.occurred_at) for event in ledger.history(serial)
            if event.topic != "record.signature-applied"]


@pytest.mark.parametrize("regenerate", [True, False], ids=["probed", "skipped"])
def test_interrupted_run_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 regenerate: bool) -> None:
    """A run stopped after its first batches resumes to exactly the ledger of one that was not,
    whether the chunks written before are made again for the probes or skipped."""
    monkeypatch.setattr(dataset.Plant, "watching", lambda *_: regenerate)
    fill(tmp_path / "whole.db", 3 * 31, batch_units=1)
    write = dataset.Writer.write
    calls = 0

    def failing(self: Any, entries: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:  # the setup and the first unit are written, then the run dies
            raise KeyboardInterrupt
        write(self, entries)

    monkeypatch.setattr(dataset.Writer, "write", failing)
    with pytest.raises(KeyboardInterrupt):
        fill(tmp_path / "resumed.db", 3 * 31, batch_units=1)
    monkeypatch.setattr(dataset.Writer, "write", write)
    summary = fill(tmp_path / "resumed.db", 3 * 31, batch_units=1)
    assert summary["chunks_already_written"] == 1
    heads = []
    for name in ("whole.db", "resumed.db"):
        opened = thread.open(str(tmp_path / name), create=False)
        heads.append(opened.tree_head())
        opened.close()
    assert heads[0] == heads[1]


def test_probes_name_real_subjects(filled: tuple[Path, dict[str, Any]], ledger: Ledger) -> None:
    """The probes file lists serials at every level, a busy machine, a week and a predicate."""
    path, summary = filled
    probes = json.loads(path.with_name("plant.db.probes.json").read_text())
    assert probes == summary["probes"]
    assert [level["level"] for level in probes["levels"]] == [1, 2, 3, 4, 5]
    for level in probes["levels"]:
        for serial in level["serials"]:
            assert ledger.part(serial).part_number in level["part_numbers"]
    recall = probes["recall"]
    assert recall["machine"] in probes["machines"]
    assert ledger.machine(recall["machine"]).condition_windows > 0
    assert "vibration.max > 4.0" in recall["predicate"]
    assert recall["parts_on_machine"] > 0
