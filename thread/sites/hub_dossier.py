"""A part's dossier at the hub, across the sites it was made and assembled at: each of its
events proved in its site's log, and that site checkpoint proved in the hub's own log.

For each site whose log holds events of the part, the dossier carries the events'
canonical bytes, each with a c2sp.org/tlog-proof against the site checkpoint the hub
mirrored (the site's signed note with the hub's cosignature and any witness's), and the
hub log's :class:`~thread.domain.facts.sites.SiteCheckpointMirrored` event for that
checkpoint with a tlog-proof against the hub's signed checkpoint. An auditor verifies it
offline with a c2sp.org/tlog-policy (:func:`verify_hub_dossier`): each site checkpoint
must meet the policy (signed by a site log it lists, cosigned by the quorum, such as the
hub's mirror signature and a witness), and the hub checkpoint must be signed by a log it
lists. The format, ``thread-hub-dossier/v2``, is one JSON object in the canonical layout
of :mod:`thread.log.offline` (what ``json.dumps(document, indent=2)`` writes, and a
newline)::

    {
      "format": "thread-hub-dossier/v2",
      "serial": "<the part's serial>",
      "hub": "<the hub log's origin>",
      "sites": [
        {
          "origin": "<the site log's origin>",
          "events": [{"version": <1, 2, ...>, "canonical": "<base64>",
                      "proof": "<tlog-proof text in the site's log>"}],
          "map": {"version": <n>, "head": "<hex>", "path": ["<base64>", ...]},
          "mirrored": {"canonical": "<base64 of the hub log's event>",
                       "proof": "<tlog-proof text in the hub's log>"}
        }
      ]
    }

The part's events at each site are its chain there (versions 1 to n, linked), under the
part's published subject id; sites whose identifiers are keyed (encrypted ledgers) are not
found by serial at the hub. ``map`` is the part's head in the subject map the site
checkpoint commits to on its ``dtl-map/v1`` line, as a part's own dossier carries it
(:mod:`thread.log.offline`): it proves that the site's events in the dossier are all of
the part's events in that site's log up to the checkpoint. The hub derives the site's map
from the entries it mirrored as it cosigns them, and checks each proof it serves against
the signed root before it writes one.
A site whose checkpoint carries no map line (signed before site ledgers kept maps) has no
``map``; ``thread-hub-dossier/v1`` files, written before hub dossiers carried maps, are
still read, and prove no site complete.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from thread.domain.envelope import GENESIS, EnvelopeError, aggregate_id, open_envelope
from thread.errors import IntegrityFailure, LedgerError
from thread.log.checkpoint import Checkpoint, CheckpointError, open_note
from thread.log.merkle import leaf_hash
from thread.log.offline import DossierError, map_proof_json, map_proof_of
from thread.log.subject_map import (
    MAP_LINE,
    MapError,
    MapProof,
    Sub,
    find_map_line,
    head_problem,
    proof_among,
    subject_key,
)
from thread.log.tlog_proof import TlogProof
from thread.log.trust_policy import TrustPolicy

if TYPE_CHECKING:
    from thread.ledger import Ledger
    from thread.sites.mirror import Mirror

FORMAT = "thread-hub-dossier/v2"
FORMAT_V1 = "thread-hub-dossier/v1"
MIRRORED = "site.checkpoint-mirrored"


class HubDossierError(IntegrityFailure):
    """A hub dossier that is malformed or does not verify: which check, and where."""


class NotMirrored(LedgerError):  # noqa: N818 - reads as the state of the part
    """No site checkpoint in the hub's signed log covers an event of the part yet."""


@dataclass(frozen=True)
class SiteEvents:
    """What a hub dossier proved of one site: its log, the checkpoint size, the part's
    versions there and the witnesses that cosigned the checkpoint."""

    origin: str
    size: int
    versions: int
    witnesses: tuple[str, ...]
    #: Proved to be every event of the part in the site's log at the checkpoint (its map).
    complete: bool = False


@dataclass(frozen=True)
class VerifiedHubDossier:
    """A verified hub dossier: the part, the hub checkpoint, and each site's share."""

    serial: str
    hub: str
    hub_size: int
    sites: tuple[SiteEvents, ...]


def hub_dossier_of(ledger: Ledger, mirror: Mirror, serial: str) -> bytes:
    """The hub dossier of part ``serial`` (its file's bytes), proved against the hub's
    latest signed checkpoint."""
    stored = ledger.checkpoints()
    if not stored:
        raise NotMirrored(f"part {serial}: the hub has not signed a checkpoint of its own log "
                          f"yet (thread hub --key KEY signs one as it mirrors)")
    hub_size, hub_note = stored[-1]
    subject = aggregate_id("part", serial).bytes
    sites = []
    for origin in mirror.known():
        mirrored = _mirrored_in(ledger, origin, hub_size)
        if mirrored is None:
            continue
        version, canonical, size, note = mirrored
        events = mirror.subject_entries(origin, subject, size)
        if not events:
            continue
        checkpoint = _site_checkpoint(note)
        committed = find_map_line(checkpoint.extensions)
        head = (None if committed is None
                else _site_head(mirror, origin, size, serial, events, committed))
        proofs = mirror.inclusion_proofs(origin, events, size, checkpoint.root)
        hub_proof = ledger.inclusion_proof("site", origin, version, size=hub_size)
        site: dict[str, Any] = {
            "origin": origin,
            "events": [{"version": open_envelope(entry).version, "canonical": _b64(entry),
                        "proof": TlogProof(index, tuple(path), note).text()}
                       for (index, entry), path in zip(events, proofs, strict=True)],
        }
        if head is not None:
            site["map"] = map_proof_json(head)
        site["mirrored"] = {"canonical": _b64(canonical),
                            "proof": TlogProof(hub_proof.index, tuple(hub_proof.path),
                                               hub_note).text()}
        sites.append(site)
    if not sites:
        raise NotMirrored(f"part {serial}: no site checkpoint in the hub's signed log covers "
                          f"an event of it")
    document = {"format": FORMAT, "serial": serial, "hub": ledger.origin, "sites": sites}
    return (json.dumps(document, indent=2) + "\n").encode("ascii")


def _site_head(mirror: Mirror, origin: str, size: int, serial: str,
               events: list[tuple[int, bytes]], committed: Sub) -> MapProof:
    """The part's head in the site's map at ``size``, from the map the hub stored when it
    cosigned that size (else built from every mirrored entry up to it), checked against the
    map the site signed and against the part's events there."""
    subject = aggregate_id("part", serial).bytes
    key = subject_key(subject)
    stored = mirror.map_proof(origin, size, subject)
    root, proof = stored if stored is not None else proof_among(mirror.heads(origin, size), key)
    problem = None if root == committed else (
        f"the subject map of its mirrored entries (root {root.hash.hex()[:16]}, "
        f"{root.subjects} subjects) is not the one the site signed")
    problem = problem or head_problem(proof, committed, key, len(events),
                                      leaf_hash(events[-1][1]), f"part {serial}",
                                      "the mirrored log", size)
    if problem is not None:
        raise IntegrityFailure(f"{origin} at {size} entries: {problem}; check the mirror "
                               f"(thread verify --policy POLICY)")
    return proof


def _site_checkpoint(note: str) -> Checkpoint:
    """The site checkpoint in a cosigned note (its body, before the signatures)."""
    return Checkpoint.parse(note[:note.rfind("\n\n") + 1])


def _mirrored_in(ledger: Ledger, origin: str, hub_size: int
                 ) -> tuple[int, bytes, int, str] | None:
    """The hub log's latest SiteCheckpointMirrored of ``origin`` within ``hub_size``
    leaves: its version, canonical bytes, the site size and the cosigned note.

    The site's events in the hub's log grow by one at each catch-up that moved it, so the
    last version inside the tree is found by bisection on the versions' leaf positions
    (they rise with the versions) and only the events from there back are read (a
    refusal's, at most, before the mirrored checkpoint's); the dossier proves the one it
    takes in the hub's log, so its chain need not be read here."""
    ident = ledger.mapper.subject_id("site", origin)
    low, high = 0, ledger.store.select_versions([ident]).get(ident, 0)
    while low < high:  # the last version whose leaf is inside the tree
        middle = (low + high + 1) // 2
        position = ledger.store.leaf_position(ident, middle)
        if position is not None and position < hub_size:
            low = middle
        else:
            high = middle - 1
    plaintext = ledger.mapper.plaintext
    for version in range(low, 0, -1):
        [row] = ledger.store.select_events(ident, gt=version - 1, lte=version)
        canonical = plaintext(row)
        envelope = open_envelope(canonical)
        if envelope.topic == MIRRORED:
            payload = envelope.payload
            return version, canonical, int(payload["size"]), str(payload["checkpoint"])
    return None


def verify_hub_dossier(data: bytes, policy: TrustPolicy) -> VerifiedHubDossier:
    """Check a hub dossier under ``policy`` (see the module); raise :class:`HubDossierError`
    naming the first check that fails."""
    try:
        document = json.loads(data.decode("ascii"))
    except (UnicodeDecodeError, ValueError) as error:
        raise HubDossierError(f"not a hub dossier (ASCII JSON): {error}") from None
    if not isinstance(document, dict) or document.get("format") not in (FORMAT, FORMAT_V1):
        raise HubDossierError(f"not a {FORMAT} (or {FORMAT_V1}) file")
    mapped = document["format"] == FORMAT
    if (json.dumps(document, indent=2) + "\n").encode("ascii") != data:
        raise HubDossierError("the file is not in the canonical layout (json.dumps with "
                              "indent=2 and one newline): it was changed")
    serial, hub = document.get("serial"), document.get("hub")
    if not isinstance(serial, str) or not isinstance(hub, str) or not isinstance(
            document.get("sites"), list) or not document["sites"]:
        raise HubDossierError("expected serial, hub and a non-empty list of sites")
    subject = aggregate_id("part", serial).bytes
    hub_checkpoint: Checkpoint | None = None
    sites = []
    for number, site in enumerate(document["sites"], start=1):
        where = f"site {number}"
        try:
            origin, events, mirrored = site["origin"], site["events"], site["mirrored"]
            hub_proof = TlogProof.parse(mirrored["proof"])
            hub_entry = _unb64(mirrored["canonical"], f"{where}: mirrored")
            checkpoint = hub_proof.verify(hub_entry)
            open_note(hub_proof.checkpoint, policy.logs)
        except (KeyError, TypeError) as error:
            raise HubDossierError(f"{where}: missing or malformed member {error}") from None
        except CheckpointError as error:
            raise HubDossierError(f"{where}: in the hub's log: {error}") from None
        if checkpoint.origin != hub or (hub_checkpoint is not None
                                        and checkpoint != hub_checkpoint):
            raise HubDossierError(f"{where}: proved against another hub checkpoint than "
                                  f"the dossier's ({hub})")
        hub_checkpoint = checkpoint
        recorded = _envelope(hub_entry, f"{where}: mirrored")
        if recorded.topic != MIRRORED or recorded.payload.get("site") != origin:
            raise HubDossierError(f"{where}: the hub's entry is not the mirrored checkpoint "
                                  f"of {origin}")
        note = str(recorded.payload.get("checkpoint"))
        verdict = policy.verdict(note)
        if not verdict.ok:
            raise HubDossierError(f"{where}: {origin}'s checkpoint does not meet the policy: "
                                  f"{verdict.reason}")
        site_checkpoint = _site_checkpoint(note)
        if site_checkpoint.origin != origin:
            raise HubDossierError(f"{where}: the checkpoint is of {site_checkpoint.origin}, "
                                  f"not {origin}")
        previous = GENESIS
        for version, event in enumerate(events, start=1):
            at = f"{where} ({origin}) event {version}"
            try:
                proof, entry = TlogProof.parse(event["proof"]), _unb64(event["canonical"], at)
                if proof.checkpoint != note:
                    raise HubDossierError(f"{at}: proved against another checkpoint than the "
                                          f"one the hub's log holds")
                proof.verify(entry)
            except (KeyError, TypeError) as error:
                raise HubDossierError(f"{at}: missing or malformed member {error}") from None
            except CheckpointError as error:
                raise HubDossierError(f"{at}: {error}") from None
            envelope = _envelope(entry, at)
            if (envelope.aggregate_id != subject or envelope.version != version
                    or event.get("version") != version or envelope.prev_hash != previous):
                raise HubDossierError(f"{at}: not version {version} of part {serial}, linked "
                                      f"to the one before")
            previous = _sha256(entry)
        if not events:
            raise HubDossierError(f"{where}: no events of part {serial}")
        if not mapped and "map" in site:
            raise HubDossierError(f"{where}: a {FORMAT_V1} file carries no map proofs")
        complete = mapped and _check_complete(site, site_checkpoint, serial, events, where)
        sites.append(SiteEvents(origin, site_checkpoint.size, len(events), verdict.witnesses,
                                complete))
    assert hub_checkpoint is not None
    return VerifiedHubDossier(serial, hub, hub_checkpoint.size, tuple(sites))


def _check_complete(site: dict[str, Any], checkpoint: Checkpoint, serial: str,
                    events: list[dict[str, Any]], where: str) -> bool:
    """That the site's events are all of the part's in its log at the checkpoint, by the map
    proof (True), or that neither the checkpoint nor the site carries a map (False)."""
    try:
        committed = find_map_line(checkpoint.extensions)
    except MapError as error:
        raise HubDossierError(f"{where}: the site checkpoint: {error}") from None
    if committed is None:
        if "map" in site:
            raise HubDossierError(f"{where}: a map proof, but the site checkpoint commits to "
                                  f"no subject map ({MAP_LINE} line)")
        return False
    if "map" not in site:
        raise HubDossierError(
            f"{where}: the site checkpoint commits to a subject map ({MAP_LINE}) but the site "
            f"carries no map proof for part {serial}: it was removed, so the dossier cannot "
            f"show that it holds every event of the part there")
    try:
        proof = map_proof_of(site["map"], f"{where}: 'map'")
    except DossierError as error:
        raise HubDossierError(str(error)) from None
    problem = head_problem(proof, committed, subject_key(aggregate_id("part", serial).bytes),
                           len(events), leaf_hash(_unb64(events[-1]["canonical"], where)),
                           f"part {serial}", f"{where}'s events", checkpoint.size)
    if problem is not None:
        raise HubDossierError(f"{where}: {problem}")
    return True


def _envelope(entry: bytes, where: str) -> Any:
    try:
        return open_envelope(entry)
    except EnvelopeError as error:
        raise HubDossierError(f"{where}: {error}") from None


def _sha256(data: bytes) -> bytes:
    import hashlib

    return hashlib.sha256(data).digest()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: object, where: str) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        raise HubDossierError(f"{where}: not base64") from None
