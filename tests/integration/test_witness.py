"""A C2SP tlog-witness over HTTP: it cosigns a log's checkpoints only as consistent
extensions of the last it cosigned, and answers every other case with the status the
specification names."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import thread
from thread import facts as f
from thread.log.checkpoint import generate_signer, sign_note
from thread.log.cosignature import cosignatures, generate_cosigner
from thread.sites.witness import Witness, request_body, serve

WITNESS_KEY, WITNESS_VKEY = generate_cosigner("witness.example/w1")


class Log:
    """A ledger that signs checkpoints as it grows."""

    def __init__(self, path: Path) -> None:
        self.at = datetime(2026, 3, 2, tzinfo=UTC)
        self.ledger = thread.open(path, clock=self._tick)
        self.key, self.verifier = generate_signer(self.ledger.origin)
        self.ledger.record(f.MachineRegistered(machine="M", name="Mill", kind="mill"))

    def _tick(self) -> datetime:
        self.at += timedelta(seconds=1)
        return self.at

    def grow(self, alarms: int) -> tuple[int, str]:
        for n in range(alarms):
            self.ledger.record(f.AlarmRaised(machine="M", code=f"A{n}", severity="warning",
                                             text="door open", raised_at=self.at))
        note = self.ledger.checkpoint(self.key)
        return self.ledger.tree_head()[0], note


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Log, Witness]]:
    """A witness for one log, served on a loopback port."""
    log = Log(tmp_path / "log.db")
    witness = Witness(tmp_path / "witness.json", cosigner_key=WITNESS_KEY,
                      logs={log.ledger.origin: log.verifier})
    server = serve(witness, "127.0.0.1", 0)
    worker = threading.Thread(target=server.serve_forever, daemon=True)
    worker.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", log, witness
    server.shutdown()
    log.ledger.close()


def _post(url: str, body: bytes) -> tuple[int, str, str]:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("POST", "/add-checkpoint", body=body)
        answer = connection.getresponse()
        return answer.status, answer.getheader("Content-Type") or "", answer.read().decode()
    finally:
        connection.close()


def test_a_witness_cosigns_consistent_checkpoints(served: tuple[str, Log, Witness]) -> None:
    """First from size 0, then with a consistency proof: each answer is a cosignature that
    verifies on the checkpoint; the record is the last size."""
    url, log, witness = served
    size, note = log.grow(3)
    status, _, body = _post(url, request_body(0, [], note))
    assert status == 200
    assert len(cosignatures(note + body, [WITNESS_VKEY])) == 1
    bigger, later = log.grow(4)
    proof = log.ledger.consistency_proof(size, bigger)
    status, _, body = _post(url, request_body(size, proof, later))
    assert status == 200 and cosignatures(later + body, [WITNESS_VKEY])
    assert witness.latest()[log.ledger.origin][0] == bigger


def test_every_other_case_gets_the_status_the_specification_names(
        served: tuple[str, Log, Witness], tmp_path: Path) -> None:
    """409 with the size for a stale old size, 422 for a bad proof, 403 for an unknown key,
    404 for an unknown log, 400 for a malformed body or an old size above the new."""
    url, log, _ = served
    size, note = log.grow(2)
    assert _post(url, request_body(0, [], note))[0] == 200
    bigger, later = log.grow(2)
    status, kind, body = _post(url, request_body(0, [], later))
    assert (status, kind, body) == (409, "text/x.tlog.size", f"{size}\n")
    wrong = log.ledger.consistency_proof(1, bigger)
    assert _post(url, request_body(size, wrong, later))[0] == 422
    impostor, _ = generate_signer(log.ledger.origin)
    forged = sign_note(later[:later.rfind("\n\n") + 1], impostor)
    assert _post(url, request_body(size, log.ledger.consistency_proof(size, bigger),
                                   forged))[0] == 403
    stranger = Log(tmp_path / "other.db")
    assert _post(url, request_body(0, [], stranger.grow(1)[1]))[0] == 404
    assert _post(url, b"old 01\n\n" + later.encode())[0] == 400
    assert _post(url, request_body(bigger + 1, [], later))[0] == 400
    stranger.ledger.close()


def test_the_hub_has_its_mirrored_checkpoints_witnessed_and_a_policy_holds_them(
        tmp_path: Path) -> None:
    """A hub configured with a witness: each checkpoint it mirrors carries its own and the
    witness's cosignatures, and a tlog-policy requiring both accepts it, round after round
    (the second by a hub started again, which learns from the witness's 409 where it is
    and makes the consistency proof from the entries it holds); a policy requiring a
    witness that did not cosign refuses it."""
    from thread.log.trust_policy import TrustPolicy
    from thread.sites.mirror import Mirror
    from thread.sites.site import log_entries

    site = Log(tmp_path / "site.db")
    witness = Witness(tmp_path / "witness.json", cosigner_key=WITNESS_KEY,
                      logs={site.ledger.origin: site.verifier})
    server = serve(witness, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hub_key, hub_vkey = generate_cosigner("hub.example/mirror")
    def hub() -> Mirror:  # a hub started again forgets what the witness holds: 409, then
        return Mirror(str(tmp_path / "hub.db"), cosigner_key=hub_key,  # asked from there
                      sites={site.ledger.origin: site.verifier},
                      witnesses=[f"http://127.0.0.1:{server.server_address[1]}"])

    mirror = hub()
    _, absent = generate_cosigner("witness.example/w2")
    both = TrustPolicy.parse(f"log {site.verifier}\nwitness hub {hub_vkey}\nwitness w1 "
                             f"{WITNESS_VKEY}\ngroup both all hub w1\nquorum both\n".encode())
    other = TrustPolicy.parse(f"log {site.verifier}\nwitness w2 {absent}\n"
                              f"quorum w2\n".encode())
    try:
        held = 0
        for alarms in (3, 4):
            mirror.close()
            mirror = hub()
            size, note = site.grow(alarms)
            proof = site.ledger.consistency_proof(held, size) if held else []
            mirror.add_checkpoint(note, proof)
            state = mirror.add_entries(site.ledger.origin, held,
                                       log_entries(site.ledger, held, size))
            held = state.mirror_size
            assert held == size and state.mirror_note is not None
            verdict = both.verdict(state.mirror_note)
            assert verdict.ok and verdict.witnesses == ("hub", "w1"), verdict.reason
            assert not other.verdict(state.mirror_note).ok
        assert witness.latest()[site.ledger.origin][0] == held
    finally:
        server.shutdown()
        mirror.close()
        site.ledger.close()
