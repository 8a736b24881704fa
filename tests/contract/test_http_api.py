"""The HTTP API against a real uvicorn server on SQLite and PostgreSQL: every answer is the
library's own, a retried POST writes nothing twice, a batch with one bad fact writes
nothing and names it, bad input is a 4xx with the CLI's one line, bearer tokens and the
role policy decide each request, and the C2SP tlog-tiles an independent reader fetches
give the signed checkpoint's root."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import httpx
import pytest
from conftest import Clock
from web_server import T0, serving, small_plant

import thread
from thread.access.policy import Identity, Policy
from thread.log.checkpoint import Checkpoint, generate_signer
from thread.log.offline import verify_dossier
from thread.web import create_app

pytestmark = pytest.mark.contract

OPERATOR = "op-token-0123456789"
ENGINEER = "qe-token-0123456789"


def _fact(serial: str, revision: str = "A", record_id: str | None = None) -> dict[str, object]:
    return {"topic": "manufacturing.part-registered",
            "fact": {"serial": serial, "part_number": "BRG-6204", "revision": revision},
            **({"source": "mes", "source_record_id": record_id} if record_id else {})}


def test_answers_are_the_library_s_own(ledger_url: str, clock: Clock) -> None:
    """Story, history, genealogy, recall scope, DHR and the proofs equal what the library
    gives in-process."""
    small_plant(ledger_url, clock)
    ledger = thread.open(ledger_url, clock=clock)
    with serving(create_app(ledger_url)) as base, httpx.Client(base_url=base) as http:
        assert http.get("/parts/SN-1").json() == json.loads(
            ledger.trace("SN-1").model_dump_json())
        history = http.get("/subjects/part/SN-1/history").json()
        assert [e["hash"] for e in history["events"]] == [
            e.hash.hex() for e in ledger.history("SN-1")]
        assert http.get("/genealogy/A-1").json() == json.loads(
            ledger.genealogy("A-1").model_dump_json())
        scope = http.get("/recall", params={"machine": "GR-01", "start": T0.isoformat(),
                                            "end": T0.replace(hour=7).isoformat()}).json()
        assert scope == json.loads(ledger.recall_scope(
            machine="GR-01", start=T0, end=T0.replace(hour=7)).model_dump_json())
        pdf = http.get("/parts/SN-1/dhr", params={"format": "pdf"})
        assert pdf.headers["content-type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF")
        proof = http.get("/proofs/inclusion", params={"kind": "part", "key": "SN-1",
                                                      "version": 2}).json()
        assert proof["root"] == ledger.tree_head()[1].hex()
    ledger.close()


def test_a_retried_post_writes_nothing_twice_and_a_bad_batch_writes_nothing(
        ledger_url: str, clock: Clock) -> None:
    """The same source record twice is one event; a batch whose second fact names an
    unreleased revision writes none of its facts and names the problem; malformed input is
    a 4xx with one line, never a 500."""
    small_plant(ledger_url, clock)
    with serving(create_app(ledger_url)) as base, httpx.Client(base_url=base) as http:
        first = http.post("/facts", json=_fact("SN-9", record_id="WO-9"))
        again = http.post("/facts", json=_fact("SN-9", record_id="WO-9"))
        assert (first.status_code, again.status_code) == (201, 201)
        assert again.json() == {**first.json(), "duplicate": True}
        before = http.get("/proofs/consistency", params={"size1": 1, "size2": 1}).status_code
        batch = http.post("/batches", json={"facts": [_fact("SN-10"), _fact("SN-11", "Z")]})
        assert batch.status_code == 400 and "revision Z, which was never released" in \
            batch.json()["detail"]
        assert http.get("/parts/SN-10").status_code == 404  # the first fact did not land
        refusals = [
            (http.post("/facts", json={"topic": "nope", "fact": {}}), 400, "unknown topic"),
            (http.post("/facts", json={"topic": 3}), 422, "field 'topic' = 3"),
            (http.post("/facts", content=b"{not json"), 422, "field"),
            (http.post("/facts", json=_fact("")), 422, "field 'serial' = ''"),
            (http.get("/parts/NOPE"), 404, "no part or lot NOPE"),
            (http.get("/subjects/robot/X/history"), 422, "field 'kind' = 'robot'"),
            (http.get("/proofs/consistency", params={"size1": 9, "size2": 3}), 400, "sizes"),
        ]
        for answer, status, words in refusals:
            assert answer.status_code == status and words in answer.json()["detail"]
            assert "\n" not in answer.json()["detail"]
        assert before == 200
    ledger = thread.open(ledger_url, clock=clock)
    assert [e.fact.serial for e in ledger.history("SN-9")] == ["SN-9"]  # type: ignore[attr-defined]
    ledger.close()


def test_tokens_and_the_role_policy_decide_each_request(ledger_url: str, clock: Clock) -> None:
    """No token or an unknown one is 401; an operator may register a part but not record a
    disposition (403 naming why); what was refused is not written."""
    small_plant(ledger_url, clock)
    tokens = {OPERATOR: Identity("olga", ("operator",)),
              ENGINEER: Identity("quinn", ("quality-engineer",))}
    app = create_app(ledger_url, tokens=tokens, policy=Policy.default())
    with serving(app) as base, httpx.Client(base_url=base) as http:
        assert http.get("/parts/SN-1").status_code == 401
        assert http.get("/parts/SN-1", headers={"Authorization": "Bearer wrong"}
                        ).status_code == 401
        operator = {"Authorization": f"Bearer {OPERATOR}"}
        assert http.post("/facts", json=_fact("SN-20"), headers=operator).status_code == 201
        refused = http.post("/facts", headers=operator, json={
            "topic": "action.quarantined", "fact": {"serial": "SN-20", "reason": "check"}})
        assert refused.status_code == 403 and "olga" in refused.json()["detail"]
        story = http.get("/parts/SN-20", headers={"Authorization": f"Bearer {ENGINEER}"})
        assert story.status_code == 200 and story.json()["timeline"][-1]["topic"] == \
            "manufacturing.part-registered"


def test_an_independent_reader_verifies_the_log_from_its_tiles(
        ledger_url: str, clock: Clock, tmp_path: Path) -> None:
    """Served over HTTP: the signed checkpoint, every tile and entry bundle its size needs;
    the root recomputed from them (with hashlib, not the library) is the checkpoint's, and
    a part's dossier fetched over HTTP verifies offline."""
    small_plant(ledger_url, clock)
    ledger = thread.open(ledger_url, clock=clock)
    key, vkey = generate_signer(ledger.origin)
    note = ledger.checkpoint(key)
    ledger.close()
    size, root = Checkpoint.from_note(note).size, Checkpoint.from_note(note).root
    with serving(create_app(ledger_url)) as base, httpx.Client(base_url=base) as http:
        assert http.get("/checkpoint").text == note
        bundle = http.get(f"/tile/entries/000.p/{size}").content
        entries, at = [], 0
        while at < len(bundle):
            length = int.from_bytes(bundle[at:at + 2], "big")
            entries.append(bundle[at + 2:at + 2 + length])
            at += 2 + length
        leaves = http.get(f"/tile/0/000.p/{size}").content
        assert [leaves[i:i + 32] for i in range(0, len(leaves), 32)] == [
            hashlib.sha256(b"\x00" + entry).digest() for entry in entries]
        assert _root([leaves[i:i + 32] for i in range(0, len(leaves), 32)]) == root
        assert http.get("/tile/0/000").status_code == 404  # not full yet
        assert http.get("/tile/0/x000/000").status_code == 400
        dossier = http.get("/parts/SN-1/dossier").content
    assert verify_dossier(dossier, vkey).serial == "SN-1"


def _root(hashes: list[bytes]) -> bytes:
    """RFC 6962 Merkle tree hash of leaf hashes, written here independently."""
    if len(hashes) == 1:
        return hashes[0]
    split = 1
    while split * 2 < len(hashes):
        split *= 2
    return hashlib.sha256(b"\x01" + _root(hashes[:split]) + _root(hashes[split:])).digest()


def test_a_hundred_clients_at_once_all_get_their_answer(ledger_url: str, clock: Clock) -> None:
    """A hundred stories asked at the same moment, with writers among them: every answer is
    a 200 or 201 (the API takes turns at the ledger, so the database's connections do not
    run out), and the first readers open the read models once, where they belong."""
    import asyncio

    small_plant(ledger_url, clock)

    async def crowd(base: str) -> list[int]:
        async with httpx.AsyncClient(base_url=base, timeout=120,
                                     limits=httpx.Limits(max_connections=120)) as http:
            asks = [http.get(f"/parts/SN-{1 + n % 2}") for n in range(100)]
            asks += [http.post("/facts", json=_fact(f"SN-C{n}")) for n in range(10)]
            return [answer.status_code for answer in await asyncio.gather(*asks)]

    app = create_app(ledger_url)
    with serving(app) as base:
        statuses = asyncio.run(crowd(base))
        models = app.state.ledgers.ledger(None).read_models
        assert models.notice is None  # opened once, in their usual place, not a fallback
    assert statuses == [200] * 100 + [201] * 10


def test_investigation_and_alerts_are_the_library_s(ledger_url: str, clock: Clock) -> None:
    """GET /investigation and GET /alerts give what failure_patterns and drift give."""
    small_plant(ledger_url, clock)
    ledger = thread.open(ledger_url, clock=clock)
    with serving(create_app(ledger_url)) as base, httpx.Client(base_url=base) as http:
        found = http.get("/investigation", params={"part_number": "BRG-6204"}).json()
        expected = json.loads(ledger.failure_patterns(part_number="BRG-6204").model_dump_json())
        assert {k: v for k, v in found.items() if k != "at"} == {
            k: v for k, v in expected.items() if k != "at"}
        assert http.get("/alerts").json() == json.loads(ledger.drift().model_dump_json())
        naive = http.get("/investigation", params={"part_number": "BRG-6204",
                                                   "since": "2026-01-01T00:00:00"})
        assert naive.status_code == 400 and "needs a time zone" in naive.json()["detail"]
    ledger.close()
