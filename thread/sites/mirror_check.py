"""An auditor's check of a hub's mirrors (``thread verify --policy``): for every site log
the hub holds, its entries are contiguous from 0, each once, each entry's leaf hash is its
bytes', they make the root of the cosigned mirror checkpoint, that checkpoint meets the
tlog-policy, and the hub's own log holds a checkpoint of the site that the entries make
too, and every subtree the hub stored to serve proofs from is the one the entries make.
Nothing is trusted from the mirror's bookkeeping: all of it is derived again from the
stored entries. (The site's subject map the hub stores is checked where it is used: each
map proof against the root the site signed, before a dossier carries it.)"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from thread.errors import UnknownSubject
from thread.log.checkpoint import Checkpoint, CheckpointError
from thread.log.merkle import CompactRange, Subtree, leaf_hash
from thread.log.trust_policy import TrustPolicy
from thread.sites.mirror import SITE_ENTRIES, Mirror
from thread.sites.mirror_index import SiteRows
from thread.storage.log import stored_as_node

#: Derived subtrees compared with the stored ones at a time.
_BATCH = 4096

if TYPE_CHECKING:
    from thread.ledger import Ledger


@dataclass(frozen=True)
class SiteCheck:
    """What re-deriving one site's mirror found: its size, the witnesses that cosigned it
    under the policy, and the problems (none: it holds)."""

    origin: str
    size: int
    witnesses: tuple[str, ...]
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """No problem found."""
        return not self.problems


def check_mirrors(mirror: Mirror, policy: TrustPolicy, ledger: Ledger | None = None
                  ) -> list[SiteCheck]:
    """Re-derive every site mirror the hub holds (see the module); with the hub's own
    ``ledger``, check its log of each site too."""
    return [_check(mirror, origin, policy, ledger) for origin in mirror.known()]


def _check(mirror: Mirror, origin: str, policy: TrustPolicy, ledger: Ledger | None
           ) -> SiteCheck:
    problems: list[str] = []
    state = mirror.state(origin)
    if state.mirror_note is None:
        return SiteCheck(origin, 0, (), ("nothing of it is cosigned yet",))
    try:
        checkpoint = Checkpoint.parse(state.mirror_note[:state.mirror_note.rfind("\n\n") + 1])
    except CheckpointError as error:
        return SiteCheck(origin, 0, (), (f"its mirror checkpoint: {error}",))
    verdict = policy.verdict(state.mirror_note)
    if not verdict.ok:
        problems.append(f"its mirror checkpoint does not meet the policy: {verdict.reason}")
    tree, roots = CompactRange(), {}
    logged = _logged(ledger, origin)
    derived: list[Subtree] = []
    with mirror.engine.connect() as conn, mirror.engine.connect() as other:
        stored = SiteRows(other, origin)
        rows = conn.execute(select(SITE_ENTRIES.c.idx, SITE_ENTRIES.c.leaf,
                                   SITE_ENTRIES.c.canonical)
                            .where(SITE_ENTRIES.c.origin == origin,
                                   SITE_ENTRIES.c.idx < checkpoint.size)
                            .order_by(SITE_ENTRIES.c.idx))
        for idx, leaf, canonical in rows:
            if idx != tree.size:
                problems.append(f"entry {tree.size} is missing (the next held is {idx})")
                break
            if bytes(leaf) != leaf_hash(bytes(canonical)):
                problems.append(f"entry {idx}: its stored leaf hash is not its bytes'")
                break
            derived += (node for node in tree.append(bytes(leaf))
                        if stored_as_node(node.level))
            if len(derived) >= _BATCH and _subtree_problem(stored, derived, problems):
                break
            if logged is not None and tree.size == logged[0]:
                roots[tree.size] = tree.root()
        if not problems:
            _subtree_problem(stored, derived, problems)
    if not problems and tree.size != checkpoint.size:
        problems.append(f"holds {tree.size} entries below the cosigned {checkpoint.size}")
    elif not problems and tree.root() != checkpoint.root:
        problems.append(f"its {tree.size} entries do not make the cosigned root")
    if logged is None and ledger is not None:
        problems.append("the hub's own log holds no checkpoint of it")
    elif logged is not None and not problems and roots.get(logged[0]) != logged[1]:
        problems.append(f"the hub's log says {logged[0]} entries with another root than the "
                        f"entries make")
    return SiteCheck(origin, checkpoint.size, verdict.witnesses, tuple(problems))


def _subtree_problem(stored: SiteRows, derived: list[Subtree], problems: list[str]) -> bool:
    """Compare (and clear) ``derived`` with the stored subtrees; a difference is a problem."""
    found = stored.select_subtrees([(node.level, node.index) for node in derived])
    for node in derived:
        held = found.get((node.level, node.index))
        if held != node.hash:
            what = "missing" if held is None else "not the one its entries make"
            problems.append(f"its stored subtree at level {node.level}, index {node.index} is "
                            f"{what}: proofs served from it would not verify")
            break
    derived.clear()
    return bool(problems)


def _logged(ledger: Ledger | None, origin: str) -> tuple[int, bytes] | None:
    """The size and root of the site's latest checkpoint in the hub's own log."""
    if ledger is None:
        return None
    try:
        site = ledger.site(origin)
    except UnknownSubject:
        return None
    return (site.mirrored, bytes.fromhex(site.root)) if site.mirrored else None
