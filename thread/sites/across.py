"""Queries at the hub over the site logs it mirrors, as the library answers them locally.

Each site's mirrored log (:class:`~thread.sites.mirrored_log.MirroredLog`) gets read models
of its own, built by the library's own projections, and its own
:class:`~thread.read.queries.Queries`: the hub computes nothing twice. A part's story
is told per site (a component made at one site and assembled at another has a story at
each, under its one serial), and a genealogy node says at which other sites the same
serial has a story, so an investigator follows a part across sites. Site read models live
beside a hub file (``hub.site-<token>.reads.db``) or in a schema of their own beside a
PostgreSQL hub's (``<schema>_site_<token>``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from thread.domain.envelope import aggregate_id
from thread.errors import UnknownSubject
from thread.read.clock import TimeAxis
from thread.read.genealogy import Node
from thread.read.models import engine_for
from thread.read.queries import Queries
from thread.read.recall import RecallScope
from thread.read.story import Story
from thread.sites.mirror import Mirror
from thread.sites.mirrored_log import MirroredLog
from thread.sites.wire import site_token

if TYPE_CHECKING:
    from thread.ledger import Ledger


@dataclass(frozen=True)
class SiteStory:
    """A part's story in one site's log."""

    origin: str
    story: Story


@dataclass(frozen=True)
class SiteTree:
    """A genealogy in one site's log, and for each serial or lot in it the other sites
    whose logs hold it too."""

    origin: str
    node: Node
    elsewhere: dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class SiteScope:
    """A recall scope at the site whose machine it is."""

    origin: str
    scope: RecallScope


class AcrossSites:
    """The hub's read side over the sites it mirrors (see the module)."""

    def __init__(self, mirror: Mirror, read_url: Callable[[str], str]) -> None:
        self.mirror = mirror
        self._read_url = read_url
        self._queries: dict[str, Queries] = {}

    @classmethod
    def beside(cls, ledger: Ledger, mirror: Mirror) -> AcrossSites:
        """The read side of the hub whose own ledger is ``ledger``."""
        from thread.bootstrap import PATH_SETTING
        from thread.read.urls import read_url, sqlalchemy_url

        path = ledger.env.get(PATH_SETTING)
        if path is not None:
            return cls(mirror, lambda origin: read_url(str(
                Path(path).with_suffix(f".site-{site_token(origin)}.reads.db"))))
        if not ledger.env["PERSISTENCE_MODULE"].startswith("thread.storage.postgres"):
            memory = ledger.env["SQLITE_DBNAME"].split("?")[0]  # a hub in memory
            return cls(mirror, lambda origin: f"sqlite+pysqlite:///{memory}-{site_token(origin)}"
                                              f"?mode=memory&cache=shared&uri=true")
        base = sqlalchemy_url({**ledger.env, "POSTGRES_SCHEMA": "public"})
        schema = ledger.env.get("POSTGRES_SCHEMA", "public")
        return cls(mirror, lambda origin: _schema(base, f"{schema}_site_{site_token(origin)}"))

    def close(self) -> None:
        """Release the site read models."""
        for queries in self._queries.values():
            queries.models.close()
        self._queries.clear()

    def site(self, origin: str) -> Queries:
        """The library's queries over one site's mirrored log."""
        if origin not in self._queries:
            log = MirroredLog(self.mirror, origin)
            from thread.read.models import ReadModels

            self._queries[origin] = Queries(ReadModels(log, self._read_url(origin), tree=log))
        return self._queries[origin]

    def where(self, kind: str, key: str) -> list[str]:
        """The sites whose mirrored logs hold events of the subject, by origin."""
        subject = aggregate_id(kind, key).bytes
        return [origin for origin in self.mirror.known()
                if self.mirror.subject_entries(origin, subject,
                                               self.mirror.state(origin).mirror_size)]

    def trace(self, key: str, *, as_of: datetime | None = None, by: TimeAxis = "recorded",
              verified: bool = False) -> list[SiteStory]:
        """The story of a serial (or lot) at each site that holds it (``verified``: built
        from chain-verified events, each proved in the site's mirrored log)."""
        found = self.where("part", key) or self.where("lot", key)
        if not found:
            raise UnknownSubject(f"no site this hub mirrors holds {key}")
        return [SiteStory(origin, self.site(origin).trace(key, as_of=as_of, by=by,
                                                                verified=verified))
                for origin in found]

    def genealogy(self, key: str, *, direction: Literal["down", "up"] = "down",
                  depth: int | None = None, as_of: datetime | None = None,
                  by: TimeAxis = "recorded") -> list[SiteTree]:
        """The genealogy of a serial (or lot) at each site that holds it, each node's
        other sites named."""
        found = self.where("part", key) or self.where("lot", key)
        if not found:
            raise UnknownSubject(f"no site this hub mirrors holds {key}")
        trees = []
        for origin in found:
            node = self.site(origin).genealogy(key, direction=direction, depth=depth,
                                               as_of=as_of, by=by)
            elsewhere = {n.key: tuple(o for o in self.where(n.kind, n.key) if o != origin)
                         for n in _nodes(node)}
            trees.append(SiteTree(origin, node, {k: v for k, v in elsewhere.items() if v}))
        return trees

    def recall_scope(self, *, machine: str, start: datetime, end: datetime,
                     where: str | None = None, as_of: datetime | None = None,
                     by: TimeAxis = "recorded") -> list[SiteScope]:
        """The recall scope of ``machine`` at the site (or sites) whose log registers it."""
        found = self.where("machine", machine)
        if not found:
            raise UnknownSubject(f"no site this hub mirrors has machine {machine}")
        return [SiteScope(origin, self.site(origin).recall_scope(
            machine=machine, start=start, end=end, where=where, as_of=as_of, by=by))
            for origin in found]


def _nodes(node: Node) -> Iterator[Node]:
    yield node
    for child in node.nodes:
        yield from _nodes(child)


def _schema(base: str, schema: str) -> str:
    """A PostgreSQL URL on ``schema``, made if missing."""
    from sqlalchemy import text

    engine = engine_for(base)
    try:
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    finally:
        engine.dispose()
    return f"{base}?schema={schema}"
