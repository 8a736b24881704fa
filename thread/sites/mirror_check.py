"""An auditor's check of a hub's mirrors (``thread verify --policy``): for every site log
the hub holds, its entries are contiguous from 0, each once, each entry's leaf hash is its
bytes', they make the root of the cosigned mirror checkpoint, that checkpoint meets the
tlog-policy, and the hub's own log holds a checkpoint of the site that the entries make
too. Nothing is trusted from the mirror's bookkeeping: all of it is derived again from the
stored entries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from thread.errors import UnknownSubject
from thread.log.checkpoint import Checkpoint, CheckpointError
from thread.log.merkle import CompactRange, leaf_hash
from thread.log.trust_policy import TrustPolicy
from thread.sites.mirror import SITE_ENTRIES, Mirror

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
    with mirror.engine.connect() as conn:
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
            tree.append(bytes(leaf))
            if logged is not None and tree.size == logged[0]:
                roots[tree.size] = tree.root()
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


def _logged(ledger: Ledger | None, origin: str) -> tuple[int, bytes] | None:
    """The size and root of the site's latest checkpoint in the hub's own log."""
    if ledger is None:
        return None
    try:
        site = ledger.site(origin)
    except UnknownSubject:
        return None
    return (site.mirrored, bytes.fromhex(site.root)) if site.mirrored else None
