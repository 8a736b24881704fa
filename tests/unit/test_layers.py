"""The layers keep their contract: the domain imports no infrastructure, the core never
imports the adapters, the write side never imports the read side, and nothing imports in
a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INFRASTRUCTURE = ("eventsourcing", "sqlalchemy", "psycopg", "psycopg_pool", "sqlite3",
                  "click", "paho", "asyncua", "reportlab", "thread.storage", "thread.read",
                  "thread.ledger", "thread.bootstrap", "thread.cli", "thread.records",
                  "thread.log", "thread_adapters")
#: The write side: the ledger facade and its batch machinery, policies and stores.
WRITE_SIDE = ("thread/ledger.py", "thread/domain/", "thread/storage/")
#: What the offline verifier may load (it runs without pydantic or storage).
PURE = ("thread/domain/envelope.py", "thread/domain/topics.py", "thread/domain/whereabouts.py")


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Modules imported at run time (imports under ``if TYPE_CHECKING:`` are types only)."""
    tree = ast.parse(path.read_text(), str(path))
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only.update(id(child) for child in ast.walk(node))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _sources(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def _offending(paths: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    return [f"{path.relative_to(ROOT)} imports {name}" for path in paths
            for name in sorted(_imports(path))
            if any(name == f or name.startswith(f + ".") for f in forbidden)]


def test_the_domain_imports_no_infrastructure() -> None:
    """thread.domain: no database, broker, CLI, storage, read side, log or adapters."""
    assert _offending(_sources("thread/domain"), INFRASTRUCTURE) == []


def test_the_core_never_imports_the_adapters() -> None:
    """thread/ knows nothing of thread_adapters (they plug in through entry points)."""
    assert _offending(_sources("thread"), ("thread_adapters",)) == []


def test_the_write_side_never_imports_the_read_side() -> None:
    """The ledger, the domain and the stores get their read side from bootstrap."""
    paths = [p for p in _sources("thread")
             if any(str(p.relative_to(ROOT)).startswith(w) for w in WRITE_SIDE)]
    assert paths
    assert _offending(paths, ("thread.read", "thread.records", "thread.cli")) == []


def test_the_offline_verifier_stands_on_pure_modules() -> None:
    """envelope, topics and whereabouts use the standard library and msgpack only."""
    allowed = ("thread.domain", "thread.errors", "msgpack")
    for relative in PURE:
        path = ROOT / relative
        project = {name for name in _imports(path) if name.split(".")[0] in (
            "thread", "pydantic", "sqlalchemy", "eventsourcing")}
        assert all(name.startswith(allowed) for name in project), (relative, project)
        assert not any(name.startswith(("thread.domain.facts", "thread.domain.chain",
                                        "thread.domain.canonical")) for name in project)


def test_no_module_imports_in_a_cycle() -> None:
    """Run-time imports between the project's modules form no cycle."""
    paths = _sources("thread", "thread_adapters")
    modules = {_module(p): p for p in paths}
    # A package that imports its own submodules to register them (the CLI's commands)
    # is not a cycle of concepts: those edges are left out.
    graph = {name: {m for m in _imports(path) if m in modules and m != name
                    and not (path.name == "__init__.py" and m.startswith(name + "."))}
             for name, path in modules.items()}
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(name: str, trail: list[str]) -> bool:
        state[name] = 1
        for other in sorted(graph[name]):
            if state.get(other) == 1:
                cycle.extend([*trail, name, other])
                return True
            if other not in state and visit(other, [*trail, name]):
                return True
        state[name] = 2
        return False

    for name in sorted(graph):
        if name not in state and visit(name, []):
            break
    assert cycle == [], " -> ".join(cycle)


@pytest.mark.parametrize("relative", PURE)
def test_pure_modules_exist(relative: str) -> None:
    """The modules the offline verifier loads are where the contract says."""
    assert (ROOT / relative).is_file()
