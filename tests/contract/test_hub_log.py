"""The hub's own log, a log of logs: each site checkpoint the mirror cosigned, and each
refusal, is a fact in the hub's ledger, once, after any restart; the hub's signed checkpoint
then commits to every site's head, and a part's hub dossier proves its events at each site
through both logs, offline under a tlog-policy. Site ledgers are named
``<organisation>/<site>``."""

from __future__ import annotations

import base64
import json
import re
import shutil
import sqlite3
from pathlib import Path

import pytest
from conftest import Clock, bearing, inspection, raw_sql, stored_bytes
from sqlalchemy import event
from test_site_mirror import HUB_KEY, HUB_VKEY, Site, _mirror

import thread
from thread import facts as f
from thread.domain.envelope import aggregate_id
from thread.errors import ConfigurationError, IntegrityFailure
from thread.log.checkpoint import Checkpoint, generate_signer, verify_checkpoint
from thread.log.cosignature import cosignatures, generate_cosigner
from thread.log.merkle import leaf_hash
from thread.log.subject_map import find_map_line, subject_key
from thread.log.tlog_proof import TlogProof
from thread.log.trust_policy import TrustPolicy
from thread.sites.hub_dossier import HubDossierError, hub_dossier_of, verify_hub_dossier
from thread.sites.hub_log import CaughtUp, HubLog
from thread.sites.mirror import Mirror, SiteRefused
from thread.sites.mirror_check import check_mirrors
from thread.sites.site import latest_checkpoint

pytestmark = pytest.mark.contract

HUB_LOG_KEY, HUB_LOG_VKEY = generate_signer("acme.example/hub")
PLANT_1, PLANT_2 = "acme.example/plant-1", "acme.example/plant-2"


def _hub(url: str, *sites: Site) -> tuple[thread.Ledger, Mirror, HubLog]:
    ledger = thread.open(url, origin="acme.example/hub")
    mirror = Mirror(url, cosigner_key=HUB_KEY,
                    sites={site.ledger.origin: site.verifier for site in sites})
    return ledger, mirror, HubLog(ledger, mirror, signer_key=HUB_LOG_KEY)


def test_each_cosigned_site_checkpoint_is_a_fact_in_the_hub_log(
        ledger_url: str, clock: Clock, tmp_path: Path) -> None:
    """Two sites mirrored: the hub's log holds each one's latest cosigned checkpoint, and
    the hub's own signed checkpoint covers those facts; a second catch-up adds nothing."""
    plants = _plants(tmp_path, clock)
    ledger, mirror, log = _hub(ledger_url, *plants)
    for plant in plants:
        plant.write(3)
        _mirror(mirror, plant)
    done = log.catch_up()
    assert (done.checkpoints, done.refusals) == (2, 0) and done.hub_checkpoint is not None
    assert verify_checkpoint(done.hub_checkpoint, HUB_LOG_VKEY).size == ledger.count()
    for plant in plants:
        site = ledger.site(plant.ledger.origin)
        assert site.mirrored == plant.ledger.count()
        assert site.checkpoint is not None
        assert site.checkpoint == mirror.state(plant.ledger.origin).mirror_note
        assert len(cosignatures(site.checkpoint, [HUB_VKEY])) == 1
        body = site.checkpoint[:site.checkpoint.rfind("\n\n") + 1]
        assert Checkpoint.parse(body).root.hex() == site.root
    assert log.catch_up() == CaughtUp(0, 0, None)
    plants[0].write(2)
    _mirror(mirror, plants[0])
    assert log.catch_up().checkpoints == 1
    assert [e.fact.size for e in ledger.history_of("site", "acme.example/plant-1")
            if isinstance(e.fact, f.SiteCheckpointMirrored)] == [7, 11]
    ledger.close()
    mirror.close()


def test_a_refusal_is_a_fact_in_the_hub_log_once_across_restarts(
        ledger_url: str, clock: Clock, tmp_path: Path) -> None:
    """A site restored from a backup and written on is refused; the refusal becomes a
    SiteRefused fact with the checkpoint it concerned, and a restarted hub does not record
    it again."""
    plant = Site(tmp_path / "plant.db", clock, origin="acme.example/plant-1")
    ledger, mirror, log = _hub(ledger_url, plant)
    plant.write(2)
    plant.ledger.close()
    shutil.copy(tmp_path / "plant.db", tmp_path / "backup.db")
    plant.ledger = thread.open(tmp_path / "plant.db", clock=clock)
    plant.write(2)
    _mirror(mirror, plant)
    plant.ledger.close()
    plant.ledger = thread.open(tmp_path / "backup.db", clock=clock)
    plant.serials = 100
    plant.write(3)  # another history after the backup, longer than the mirror
    found = latest_checkpoint(plant.ledger)
    assert found is not None
    with pytest.raises(SiteRefused):
        mirror.add_checkpoint(found[1], [])
    assert log.catch_up() == CaughtUp(1, 1, log.ledger.checkpoints()[-1][1])
    [refused] = [e.fact for e in ledger.history_of("site", "acme.example/plant-1")
                 if isinstance(e.fact, f.SiteRefused)]
    assert refused.what == "fork" and refused.checkpoint == found[1]
    assert ledger.site("acme.example/plant-1").refusals == 1
    restarted = HubLog(ledger, mirror, signer_key=HUB_LOG_KEY)
    assert restarted.catch_up() == CaughtUp(0, 0, None)
    ledger.close()
    mirror.close()


def test_a_ledger_is_named_when_created_and_keeps_its_name(tmp_path: Path) -> None:
    """``origin`` names a new ledger's log; opening it under another name, or naming it with
    spaces, is one clear error."""
    for _ in range(2):  # created, then opened again under the same name
        ledger = thread.open(tmp_path / "plant.db", origin="acme.example/plant-7")
        assert ledger.origin == "acme.example/plant-7"
        ledger.close()
    with pytest.raises(ConfigurationError, match=r"named acme\.example/plant-7; it cannot be"):
        thread.open(tmp_path / "plant.db", origin="acme.example/plant-8")
    with pytest.raises(ConfigurationError, match="origin 'plant 7': expected a log name"):
        thread.open(tmp_path / "other.db", origin="plant 7")
    assert not (tmp_path / "other.db").exists()


def _policy(*plants: Site, witnessed: bool = False) -> TrustPolicy:
    """Sites' and the hub's logs, the hub's mirror cosignature as the quorum (and an absent
    witness too, when ``witnessed``)."""
    lines = [f"log {plant.verifier}" for plant in plants] + [f"log {HUB_LOG_VKEY}",
                                                            f"witness hub {HUB_VKEY}"]
    if witnessed:
        lines += [f"witness oem {generate_cosigner('oem.example/witness')[1]}",
                  "group both all hub oem", "quorum both"]
    else:
        lines.append("quorum hub")
    return TrustPolicy.parse(("\n".join(lines) + "\n").encode())


def _plants(tmp_path: Path, clock: Clock) -> list[Site]:
    """Plants 1 and 2, named acme.example/plant-1 and -2."""
    return [Site(tmp_path / f"plant-{n}.db", clock, origin=f"acme.example/plant-{n}")
            for n in (1, 2)]


def _forward_all(mirror: Mirror, plants: list[Site]) -> None:
    """Each plant signs a checkpoint and the hub mirrors it."""
    for plant in plants:
        plant.ledger.checkpoint(plant.signer)
        _mirror(mirror, plant)


def _made_at_a_and_b(ledger_url: str, clock: Clock, tmp_path: Path, parts_before: int = 2
                     ) -> tuple[list[Site], thread.Ledger, Mirror, bytes]:
    """Component C-1 made and inspected at plant 1 (after ``parts_before`` other parts),
    received and held at plant 2; both mirrored and logged at the hub, and its hub dossier
    written."""
    plants = _plants(tmp_path, clock)
    ledger, mirror, log = _hub(ledger_url, *plants)
    plants[0].write(parts_before)
    plants[0].ledger.record(bearing("C-1"))
    plants[0].ledger.record(inspection("C-1"))
    plants[1].write(1)
    plants[1].ledger.record(bearing("C-1"))
    plants[1].ledger.record(f.Quarantined(serial="C-1", reason="incoming check"))
    _forward_all(mirror, plants)
    log.catch_up()
    return plants, ledger, mirror, hub_dossier_of(ledger, mirror, "C-1")


def test_a_part_made_at_one_site_and_held_at_another_is_proved_across_both(
        ledger_url: str, clock: Clock, tmp_path: Path) -> None:
    """The hub dossier of a component proves its chain at each site in that site's log and
    each site checkpoint in the hub's log, offline under a tlog-policy."""
    plants, ledger, mirror, data = _made_at_a_and_b(ledger_url, clock, tmp_path)
    verified = verify_hub_dossier(data, _policy(*plants))
    assert (verified.serial, verified.hub, verified.hub_size) == ("C-1", "acme.example/hub",
                                                                  ledger.count())
    assert [(s.origin, s.versions, s.witnesses) for s in verified.sites] == [
        ("acme.example/plant-1", 2, ("hub",)), ("acme.example/plant-2", 2, ("hub",))]
    for proof in (json.loads(data)["sites"][0]["events"][0]["proof"],
                  json.loads(data)["sites"][1]["mirrored"]["proof"]):
        assert proof.startswith("c2sp.org/tlog-proof@v1\nindex ")
        assert TlogProof.parse(proof).text() == proof
    ledger.close()
    mirror.close()


def test_a_hub_dossier_changed_or_short_of_its_policy_is_refused(
        ledger_url: str, clock: Clock, tmp_path: Path) -> None:
    """An event's byte changed, the hub's entry swapped for another site's, a site key the
    policy lacks, and a witness the policy requires that never cosigned: each refused."""
    plants, ledger, mirror, data = _made_at_a_and_b(ledger_url, clock, tmp_path)
    document = json.loads(data)
    changed = json.loads(data)
    entry = bytearray(base64.b64decode(changed["sites"][0]["events"][1]["canonical"]))
    entry[-1] ^= 1
    changed["sites"][0]["events"][1]["canonical"] = base64.b64encode(entry).decode()
    swapped = json.loads(data)
    swapped["sites"][0]["mirrored"] = document["sites"][1]["mirrored"]
    cases = [
        (changed, _policy(*plants), "event 2: tlog-proof: entry"),
        (swapped, _policy(*plants), "not the mirrored checkpoint of acme.example/plant-1"),
        (document, _policy(plants[1]), "does not meet the policy: no listed log signed it"),
        (document, _policy(*plants, witnessed=True), "do not make the quorum 'both'"),
    ]
    for tampered, policy, problem in cases:
        with pytest.raises(HubDossierError, match=re.escape(problem)):
            verify_hub_dossier((json.dumps(tampered, indent=2) + "\n").encode(), policy)
    with pytest.raises(HubDossierError, match="canonical layout"):
        verify_hub_dossier(data.replace(b'\n  "hub"', b'\n "hub"'), _policy(*plants))
    ledger.close()
    mirror.close()


def test_an_auditor_derives_every_mirror_again_and_finds_each_insider_edit(
        ledger_url: str, clock: Clock, tmp_path: Path) -> None:
    """Both mirrors hold under the policy; then, by raw SQL below the mirror: an entry
    deleted (a gap), an entry's bytes changed, an entry replaced with its leaf hash to
    match (another root), and a policy asking for a witness that never cosigned: each is
    named for its site."""
    plants, ledger, mirror, _ = _made_at_a_and_b(ledger_url, clock, tmp_path)
    checks = check_mirrors(mirror, _policy(*plants), ledger)
    assert [(c.origin, c.size, c.witnesses, c.ok) for c in checks] == [
        ("acme.example/plant-1", plants[0].ledger.count(), ("hub",), True),
        ("acme.example/plant-2", plants[1].ledger.count(), ("hub",), True)]
    [absent] = {c.problems for c in check_mirrors(mirror, _policy(*plants, witnessed=True),
                                                  ledger)}
    assert "do not make the quorum 'both'" in absent[0]
    forged = b"DTL\x01forged"
    edits = [
        ("DELETE FROM hub_site_entries WHERE origin = ? AND idx = 2",
         (PLANT_1,), "entry 2 is missing (the next held is 3)"),
        ("UPDATE hub_site_entries SET canonical = ? WHERE origin = ? AND idx = 1",
         (forged, PLANT_2), "entry 1: its stored leaf hash is not its bytes'"),
    ]
    for statement, params, problem in edits:
        raw_sql(ledger_url, statement, params)
        found = {c.origin: c.problems for c in check_mirrors(mirror, _policy(*plants), ledger)}
        assert problem in found[str(params[-1])]
    raw_sql(ledger_url, "UPDATE hub_site_entries SET canonical = ?, leaf = ? WHERE origin = ? "
            "AND idx = 1", (forged, leaf_hash(forged), PLANT_2))
    found = {c.origin: c.problems for c in check_mirrors(mirror, _policy(*plants), ledger)}
    assert found[PLANT_2] == ("its 5 entries do not make the cosigned root",)
    ledger.close()
    mirror.close()


def _sites_of(data: bytes) -> list[dict[str, object]]:
    sites: list[dict[str, object]] = json.loads(data)["sites"]
    return sites


def _refiled(document: dict[str, object]) -> bytes:
    return (json.dumps(document, indent=2) + "\n").encode()


def test_a_hub_dossier_proves_each_site_complete_and_a_cut_tail_is_found(
        ledger_url: str, clock: Clock, tmp_path: Path) -> None:
    """Each site carries the part's head in the site's subject map: the dossier proves it
    holds every event of the part at each site. The last event at a site cut (with or
    without its map proof), another site's proof swapped in: refused; the file rewritten as
    v1 still verifies, and proves no site complete."""
    plants, ledger, mirror, data = _made_at_a_and_b(ledger_url, clock, tmp_path)
    policy = _policy(*plants)
    verified = verify_hub_dossier(data, policy)
    assert [(s.origin, s.versions, s.complete) for s in verified.sites] == [
        (PLANT_1, 2, True), (PLANT_2, 2, True)]
    assert json.loads(data)["format"] == "thread-hub-dossier/v2"
    cut = json.loads(data)
    del cut["sites"][0]["events"][-1]
    bare = json.loads(data)
    del bare["sites"][0]["events"][-1]
    del bare["sites"][0]["map"]
    swapped = json.loads(data)
    swapped["sites"][0]["map"] = swapped["sites"][1]["map"]
    malformed = json.loads(data)
    malformed["sites"][1]["map"]["head"] = "not hex"
    cases = [
        (malformed, "site 2: 'map': 'head' must be 64 lowercase hex digits"),
        (cut, "1 event(s) after version 1 were cut from site 1's events"),
        (bare, "carries no map proof for part C-1: it was removed"),
        (swapped, "site 1's events's map proof for part C-1 (version 2) does not lead to"),
    ]
    for tampered, problem in cases:
        with pytest.raises(HubDossierError, match=re.escape(problem)):
            verify_hub_dossier(_refiled(tampered), policy)
    older = json.loads(data)
    older["format"] = "thread-hub-dossier/v1"
    for site in older["sites"]:
        del site["map"]
    assert [s.complete for s in verify_hub_dossier(_refiled(older), policy).sites] == [
        False, False]
    del older["sites"][0]["events"][-1]
    assert verify_hub_dossier(_refiled(older), policy).sites[0].versions == 1
    ledger.close()
    mirror.close()


def test_the_hub_writes_no_dossier_its_mirror_cannot_prove_complete(
        ledger_url: str, clock: Clock, tmp_path: Path) -> None:
    """An insider deletes the part's last mirrored entry at a site (raw SQL below the
    mirror): the site's map the hub stored when it cosigned still says the part had one
    more event, and the hub refuses to write a dossier without it."""
    plants, ledger, mirror, _ = _made_at_a_and_b(ledger_url, clock, tmp_path)
    [(index,)] = raw_sql(ledger_url, "SELECT MAX(idx) FROM hub_site_entries WHERE origin = ? "
                         "AND subject = ?", (PLANT_2, aggregate_id("part", "C-1").bytes))
    raw_sql(ledger_url, "DELETE FROM hub_site_entries WHERE origin = ? AND idx = ?",
            (PLANT_2, index))
    with pytest.raises(IntegrityFailure, match=re.escape(
            f"{PLANT_2} at {plants[1].ledger.count()} entries: the mirrored log holds versions "
            f"1-1 of part C-1 but the checkpoint's subject map says it was at version 2")):
        hub_dossier_of(ledger, mirror, "C-1")
    ledger.close()
    mirror.close()


def _made_late_at_a_long_site(ledger_url: str, clock: Clock, tmp_path: Path
                              ) -> tuple[list[Site], thread.Ledger, Mirror, bytes]:
    """As :func:`_made_at_a_and_b`, with 61 entries at plant 1 before C-1 (two more), so
    that the proofs of C-1 there lean on stored subtrees."""
    return _made_at_a_and_b(ledger_url, clock, tmp_path, parts_before=30)


def test_a_hub_dossier_reads_the_parts_entries_and_stored_rows_not_the_site_log(
        ledger_url: str, clock: Clock, tmp_path: Path) -> None:
    """Every mirrored entry of plant 1 deleted by raw SQL except the 16-entry blocks the
    part's events lie in: the hub writes the same dossier, byte for byte, from the stored
    subtrees and the site's stored map (and it verifies)."""
    plants, ledger, mirror, data = _made_late_at_a_long_site(ledger_url, clock, tmp_path)
    indexes = [int(str(i)) for i, in raw_sql(
        ledger_url, "SELECT idx FROM hub_site_entries WHERE origin = ? AND subject = ?",
        (PLANT_1, aggregate_id("part", "C-1").bytes))]
    assert indexes == [61, 62]
    raw_sql(ledger_url, "DELETE FROM hub_site_entries WHERE origin = ? AND idx < ?",
            (PLANT_1, 48))
    assert hub_dossier_of(ledger, mirror, "C-1") == data
    assert [s.complete for s in verify_hub_dossier(data, _policy(*plants)).sites] == [
        True, True]
    ledger.close()
    mirror.close()


def test_the_hub_serves_no_proof_from_a_changed_subtree_or_map_row(
        ledger_url: str, clock: Clock, tmp_path: Path) -> None:
    """Raw SQL on the rows the hub serves proofs from: a stored subtree of plant 1's tree
    changed, then (restored) the part's head in plant 1's stored map changed. Each time the
    hub refuses to write the dossier, and the auditor's mirror check names the subtree."""
    plants, ledger, mirror, _ = _made_late_at_a_long_site(ledger_url, clock, tmp_path)
    [(digest,)] = raw_sql(ledger_url, "SELECT hash FROM hub_site_nodes WHERE origin = ? AND "
                          "level = 5 AND idx = 0", (PLANT_1,))
    raw_sql(ledger_url, "UPDATE hub_site_nodes SET hash = ? WHERE origin = ? AND level = 5 "
            "AND idx = 0", (bytes(32), PLANT_1))
    with pytest.raises(IntegrityFailure, match=re.escape(
            f"{PLANT_1}: the entries and subtrees the hub holds do not prove its entries "
            f"under the root of 63 it cosigned")):
        hub_dossier_of(ledger, mirror, "C-1")
    found = {c.origin: c.problems for c in check_mirrors(mirror, _policy(*plants), ledger)}
    assert found == {PLANT_1: ("its stored subtree at level 5, index 0 is not the one its "
                               "entries make: proofs served from it would not verify",),
                     PLANT_2: ()}
    raw_sql(ledger_url, "UPDATE hub_site_nodes SET hash = ? WHERE origin = ? AND level = 5 "
            "AND idx = 0", (stored_bytes(digest), PLANT_1))
    key = subject_key(aggregate_id("part", "C-1").bytes)
    raw_sql(ledger_url, "UPDATE hub_site_map_heads SET version = 1 WHERE origin = ? AND "
            "key = ?", (PLANT_1, key))
    with pytest.raises(IntegrityFailure, match=re.escape(f"{PLANT_1} at 63 entries: ")):
        hub_dossier_of(ledger, mirror, "C-1")
    assert all(c.ok for c in check_mirrors(mirror, _policy(*plants), ledger))
    ledger.close()
    mirror.close()


def test_a_hub_database_from_before_stored_subtrees_and_maps_still_proves_and_catches_up(
        ledger_url: str, clock: Clock, tmp_path: Path) -> None:
    """The hub's subtree and map tables dropped by raw SQL, as a hub database written by an
    earlier version has none: read as it is, the same dossier comes from the entries alone;
    reopened to mirror, the hub stores the subtrees again, writes the same dossier (the map
    built from the entries this once), and stores the map from the next checkpoint it
    cosigns on."""
    plants, ledger, mirror, data = _made_late_at_a_long_site(ledger_url, clock, tmp_path)
    mirror.close()
    stored = raw_sql(ledger_url, "SELECT level, idx, hash FROM hub_site_nodes WHERE origin = ? "
                     "ORDER BY level, idx", (PLANT_1,))
    assert [row[:2] for row in stored] == [(4, 0), (4, 1), (4, 2), (5, 0)]  # of 63 entries
    for table in ("hub_site_nodes", "hub_site_maps", "hub_site_map_heads",
                  "hub_site_map_nodes"):
        raw_sql(ledger_url, f"DROP TABLE {table}")
    reader = Mirror(ledger_url, cosigner_key="", sites={}, create=False)
    assert hub_dossier_of(ledger, reader, "C-1") == data  # read as it was: from the entries
    reader.close()
    reopened = Mirror(ledger_url, cosigner_key=HUB_KEY,
                      sites={plant.ledger.origin: plant.verifier for plant in plants})
    assert raw_sql(ledger_url, "SELECT level, idx, hash FROM hub_site_nodes WHERE origin = ? "
                   "ORDER BY level, idx", (PLANT_1,)) == stored
    assert hub_dossier_of(ledger, reopened, "C-1") == data
    assert raw_sql(ledger_url, "SELECT size FROM hub_site_maps") == []
    plants[0].ledger.record(f.Quarantined(serial="C-1", reason="field return"))
    _forward_all(reopened, plants[:1])
    HubLog(ledger, reopened, signer_key=HUB_LOG_KEY).catch_up()
    assert raw_sql(ledger_url, "SELECT origin, size FROM hub_site_maps") == [(PLANT_1, 64)]
    later = verify_hub_dossier(hub_dossier_of(ledger, reopened, "C-1"), _policy(*plants))
    assert [(s.versions, s.complete) for s in later.sites] == [(3, True), (2, True)]
    ledger.close()
    reopened.close()


def test_the_site_map_the_hub_stores_at_each_cosigned_size_is_the_one_the_site_signed(
        ledger_url: str, clock: Clock, tmp_path: Path) -> None:
    """A site mirrored in five rounds, the hub reopened (what it knew of the map forgotten)
    after the second, and in the fourth a forged batch of entries dropped (with the subtrees
    stored for them) before the real ones: at every size it cosigned, the root of the map
    it stored is the one on the site checkpoint's map line, and the mirror check holds."""
    plant = Site(tmp_path / "plant.db", clock, origin=PLANT_1)
    mirror = Mirror(ledger_url, cosigner_key=HUB_KEY, sites={PLANT_1: plant.verifier})
    for round_ in range(5):
        plant.write(3 + round_)
        plant.ledger.record(f.Quarantined(serial="SN-1", reason=f"round {round_}"))
        size, note = plant.ledger.count(), plant.ledger.checkpoint(plant.signer)
        if round_ == 2:
            mirror.close()
            mirror = Mirror(ledger_url, cosigner_key=HUB_KEY, sites={PLANT_1: plant.verifier})
        if round_ == 3:
            held = mirror.state(PLANT_1).mirror_size
            mirror.add_checkpoint(note, plant.ledger.consistency_proof(held, size))
            forged = [b"DTL\x01forged %d" % n for n in range(size - held)]
            assert mirror.add_entries(PLANT_1, held, forged).mirror_size == held
            assert [r.what for r in mirror.refusals(PLANT_1)] == ["forged entries"]
        _mirror(mirror, plant)
        assert mirror.state(PLANT_1).mirror_size == size
        signed = find_map_line(Checkpoint.parse(note[:note.rfind("\n\n") + 1]).extensions)
        stored = mirror.map_proof(PLANT_1, size, aggregate_id("part", "SN-1").bytes)
        assert stored is not None and signed is not None
        assert stored[0] == signed
    policy = TrustPolicy.parse(f"log {plant.verifier}\nwitness hub {HUB_VKEY}\nquorum hub\n"
                               .encode())
    assert [c.problems for c in check_mirrors(mirror, policy)] == [()]
    mirror.close()


def test_a_hub_dossier_finds_every_row_by_key_on_sqlite(clock: Clock, tmp_path: Path) -> None:
    """Every statement the hub's mirror runs on the tables that grow with a site's log, for a
    dossier and while it mirrors a checkpoint, is planned by SQLite to find its rows by a
    key (no scan, no search on the site alone): what keeps a dossier's cost from growing
    with the site's log."""
    url = str(tmp_path / "hub.db")
    plants, ledger, mirror, _ = _made_late_at_a_long_site(url, clock, tmp_path)
    statements: list[tuple[str, object]] = []

    def seen(conn: object, cursor: object, statement: str, parameters: object,
             context: object, executemany: bool) -> None:
        if not executemany and statement.lstrip().upper().startswith(("SELECT", "WITH")):
            statements.append((statement, parameters))

    event.listen(mirror.engine, "before_cursor_execute", seen)
    hub_dossier_of(ledger, mirror, "C-1")
    plants[0].ledger.record(f.Quarantined(serial="C-1", reason="field return"))
    _forward_all(mirror, plants[:1])
    event.remove(mirror.engine, "before_cursor_execute", seen)
    plans = []
    with sqlite3.connect(url) as database:
        for statement, parameters in statements:
            plan = " / ".join(row[3] for row in database.execute(
                "EXPLAIN QUERY PLAN " + statement, parameters))  # type: ignore[arg-type]
            if any(f"hub_site_{table}" in plan for table in ("entries", "nodes", "map_")):
                plans.append(plan)  # the tables that grow with a site's log
    assert len(plans) > 10
    for plan in plans:
        # Not the site alone, nor the site from its first row up to a bound.
        assert "SCAN " not in plan and not re.search(r"\(origin=\?( AND \w+<\?)?\)", plan), plan
    ledger.close()
    mirror.close()


def test_a_hub_dossier_takes_the_latest_mirrored_checkpoint_without_the_sites_history(
        ledger_url: str, clock: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Plant 1 mirrored in three rounds, then a refusal of it in the hub's log: the dossier
    proves the part against the third mirrored checkpoint, found without reading the site's
    history in the hub's log (which grows by one event at each catch-up)."""
    plants = _plants(tmp_path, clock)
    ledger, mirror, log = _hub(ledger_url, *plants)
    plants[0].write(1)
    plants[0].ledger.record(bearing("C-1"))
    for _ in range(3):
        plants[0].write(1)
        _forward_all(mirror, plants[:1])
        log.catch_up()
    ledger.record(f.SiteRefused(site=PLANT_1, what="fork", detail="a test refusal",
                                checkpoint=None))
    ledger.checkpoint(HUB_LOG_KEY)  # the refusal inside the hub's signed tree
    assert [type(e.fact).__name__ for e in ledger.history_of("site", PLANT_1)] == [
        "SiteCheckpointMirrored"] * 3 + ["SiteRefused"]
    monkeypatch.setattr(ledger, "history_of", None)  # not read: calling it would fail
    verified = verify_hub_dossier(hub_dossier_of(ledger, mirror, "C-1"), _policy(*plants))
    [site] = verified.sites
    assert (site.origin, site.size, site.versions, site.complete) == (
        PLANT_1, plants[0].ledger.count(), 1, True)
    ledger.close()
    mirror.close()
