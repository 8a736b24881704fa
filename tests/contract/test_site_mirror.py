"""The hub's mirror of a site's log (c2sp.org/tlog-mirror's three stages): every entry once,
with its own bytes, accepted only as an extension of what the hub holds, then cosigned; a
fork (a restored backup written on), forged entries and a checkpoint under another key are
refused, recorded and raised; a checkpoint held already or a proof sent late change
nothing; duplicates and gaps never land."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import Clock, bearing, inspection, released_bearing

import thread
from thread.log.checkpoint import generate_signer
from thread.log.cosignature import cosignatures, generate_cosigner
from thread.log.merkle import CompactRange, leaf_hash
from thread.sites.mirror import Mirror, SiteRefused
from thread.sites.site import extension_proof, latest_checkpoint, log_entries

pytestmark = pytest.mark.contract

HUB_KEY, HUB_VKEY = generate_cosigner("hub.example/mirror")


class Site:
    """A site ledger (a SQLite file) that signs its own checkpoints."""

    def __init__(self, path: Path, clock: Clock, origin: str | None = None) -> None:
        self.path = path
        self.ledger = thread.open(path, clock=clock, origin=origin)
        self.signer, self.verifier = generate_signer(self.ledger.origin)
        self.serials = 0

    def write(self, parts: int) -> tuple[int, str]:
        """Record ``parts`` more parts with an inspection each, then sign a checkpoint."""
        if self.serials == 0:
            self.ledger.record(released_bearing())
        for _ in range(parts):
            self.serials += 1
            serial = f"SN-{self.serials}"
            self.ledger.record(bearing(serial))
            self.ledger.record(inspection(serial))
        note = self.ledger.checkpoint(self.signer)
        return self.ledger.count(), note


def _hub(url: str, site: Site) -> Mirror:
    return Mirror(url, cosigner_key=HUB_KEY, sites={site.ledger.origin: site.verifier})


def _mirror(hub: Mirror, site: Site, chunk: int = 7) -> None:
    """Forward what the hub lacks: the latest checkpoint, then the entries in chunks."""
    found = latest_checkpoint(site.ledger)
    assert found is not None
    size, note = found
    held = hub.state(site.ledger.origin).mirror_size
    hub.add_checkpoint(note, extension_proof(site.ledger, held, size))
    entries = log_entries(site.ledger, 0, size)
    start = hub.state(site.ledger.origin).next
    while start < size:
        start = hub.add_entries(site.ledger.origin, start, entries[start:start + chunk]).next


def test_a_site_is_mirrored_whole_and_cosigned(ledger_url: str, clock: Clock,
                                               tmp_path: Path) -> None:
    """After two rounds the hub holds the site's every entry, byte for byte, and its
    cosignature on the site's checkpoint verifies under the hub's key."""
    site = Site(tmp_path / "site.db", clock)
    hub = _hub(ledger_url, site)
    site.write(5)
    _mirror(hub, site)
    size, _ = site.write(4)
    _mirror(hub, site)
    state = hub.state(site.ledger.origin)
    assert (state.mirror_size, state.next, state.pending_size) == (size, size, 0)
    assert hub.entries(site.ledger.origin) == log_entries(site.ledger, 0, size)
    assert state.mirror_note is not None
    [cosigned] = cosignatures(state.mirror_note, [HUB_VKEY])
    assert cosigned.cosigner.name == "hub.example/mirror" and cosigned.timestamp > 0
    assert hub.refusals() == []
    hub.close()


def test_duplicates_and_gaps_never_land(ledger_url: str, clock: Clock, tmp_path: Path) -> None:
    """Entries sent again, out of order and past a gap: the hub keeps each index once and
    asks for the next it lacks."""
    site = Site(tmp_path / "site.db", clock)
    hub = _hub(ledger_url, site)
    size, note = site.write(6)
    hub.add_checkpoint(note)
    entries = log_entries(site.ledger, 0, size)
    origin = site.ledger.origin
    assert hub.add_entries(origin, 5, entries[5:9]).next == 0  # a gap: nothing lands
    assert hub.add_entries(origin, 0, entries[0:4]).next == 4
    for _ in range(3):  # a flood of the same entries
        assert hub.add_entries(origin, 0, entries[0:6]).next == 6
    assert hub.add_entries(origin, 2, entries[2:]).mirror_size == size
    assert hub.entries(origin) == entries
    hub.close()


def test_a_site_restored_from_an_older_backup_is_refused(ledger_url: str, clock: Clock,
                                                         tmp_path: Path) -> None:
    """The backup's older checkpoint is held already (the forwarder is the one to see that
    the site went back); its new history past the backup is a fork, in its checkpoint, in
    its entries and in a checkpoint smaller than the mirror; each is recorded."""
    site = Site(tmp_path / "site.db", clock)
    hub = _hub(ledger_url, site)
    site.write(3)
    site.ledger.close()  # a backup of the closed file (its WAL folded in)
    shutil.copy(tmp_path / "site.db", tmp_path / "backup.db")
    site.ledger = thread.open(tmp_path / "site.db", clock=clock)
    old = latest_checkpoint(site.ledger)
    assert old is not None
    site.write(3)
    _mirror(hub, site)
    assert hub.add_checkpoint(old[1]).mirror_size == 13  # held already: nothing to do
    site.ledger.close()
    restored = Site.__new__(Site)
    restored.path, restored.ledger = tmp_path / "backup.db", thread.open(tmp_path / "backup.db",
                                                                         clock=clock)
    restored.signer, restored.verifier, restored.serials = site.signer, site.verifier, 10
    small, stale = restored.write(2)  # another history after the backup, still shorter
    assert small < 13
    with pytest.raises(SiteRefused, match="another history"):
        hub.add_checkpoint(stale)
    size, note = restored.write(3)
    held = hub.state(restored.ledger.origin).mirror_size
    with pytest.raises(SiteRefused, match="does not extend") as forked:
        hub.add_checkpoint(note, restored.ledger.consistency_proof(held, size))
    assert forked.value.what == "fork"
    other = log_entries(restored.ledger, 0, size)
    with pytest.raises(SiteRefused, match="bytes other than"):
        hub.add_entries(restored.ledger.origin, held - 2, other[held - 2:held + 1])
    assert [r.what for r in hub.refusals()] == ["fork", "fork", "fork"]
    assert hub.state(site.ledger.origin).mirror_size == held  # nothing moved
    hub.close()


def test_entries_that_do_not_make_the_signed_root_are_dropped(
        ledger_url: str, clock: Clock, tmp_path: Path) -> None:
    """A changed byte in one entry: the batch does not reach the signed root, is dropped and
    recorded; the true entries then land and are cosigned."""
    site = Site(tmp_path / "site.db", clock)
    hub = _hub(ledger_url, site)
    size, note = site.write(4)
    entries = log_entries(site.ledger, 0, size)
    forged = [*entries[:3], entries[3][:-1] + bytes([entries[3][-1] ^ 1]), *entries[4:]]
    origin = site.ledger.origin
    hub.add_checkpoint(note)
    state = hub.add_entries(origin, 0, forged)
    assert (state.mirror_size, state.next, state.pending_size) == (0, 0, 0)
    assert [r.what for r in hub.refusals(origin)] == ["forged entries"]
    assert hub.entries(origin) == []
    hub.add_checkpoint(note)
    assert hub.add_entries(origin, 0, entries).mirror_size == size
    tree = CompactRange()
    tree.extend(leaf_hash(entry) for entry in hub.entries(origin))
    assert tree.size == size
    hub.close()


def test_a_checkpoint_under_another_key_or_of_another_log_is_refused(
        ledger_url: str, clock: Clock, tmp_path: Path) -> None:
    """Signed by a key the hub was not given for the site: refused and recorded; a log the
    hub does not mirror: refused."""
    site = Site(tmp_path / "site.db", clock)
    hub = _hub(ledger_url, site)
    _, note = site.write(1)
    impostor, _ = generate_signer(site.ledger.origin)
    body = note[:note.rfind("\n\n") + 1]
    from thread.log.checkpoint import sign_note
    with pytest.raises(SiteRefused, match="no signature by a known key"):
        hub.add_checkpoint(sign_note(body, impostor))
    stranger = Site(tmp_path / "other.db", clock)
    _, other = stranger.write(1)
    with pytest.raises(SiteRefused, match="not a site this hub mirrors"):
        hub.add_checkpoint(other)
    assert [r.what for r in hub.refusals()] == ["bad signature"]
    hub.close()
