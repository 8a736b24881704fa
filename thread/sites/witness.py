"""A C2SP tlog-witness: cosigns the checkpoints of the logs it is given, each only as a
consistent extension of the last one it cosigned (c2sp.org/tlog-witness, byte for byte).

Any party (a customer, an OEM, a second site) runs one (``thread witness``) and logs or
the hub ask it for cosignatures with ``POST <prefix>/add-checkpoint``: the body is
``old <size>\\n``, up to 63 base64 consistency-proof lines, an empty line and the signed
checkpoint; the answer is one cosignature/v1 line, or the status the specification
names (404 unknown origin, 403 no trusted signature, 400 malformed or an old size above
the checkpoint's, 409 with ``text/x.tlog.size`` when the old size is not the last
cosigned one or the roots at equal sizes differ, 422 a consistency proof that does not
verify). The check of the old size and the update of the witness's record are one atomic
step, and the record is on disk before the answer.
"""

from __future__ import annotations

import base64
import binascii
import http.client
import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from thread.log.checkpoint import Checkpoint, CheckpointError, verify_checkpoint
from thread.log.cosignature import cosign
from thread.log.merkle import ProofError
from thread.log.verify import verify_consistency

#: The largest request body read, in bytes.
MAX_BODY = 64 * 1024
MAX_PROOF = 63


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: status, content type and body."""

    status: int
    content_type: str
    body: bytes


def _text(status: int, message: str) -> Answer:
    return Answer(status, "text/plain; charset=utf-8", (message + "\n").encode())


class Witness:
    """The witness's logic and its record (a JSON file: origin -> last cosigned size and
    root), independent of HTTP."""

    def __init__(self, state: str | Path, *, cosigner_key: str, logs: dict[str, str],
                 clock: Callable[[], float] = time.time) -> None:
        self.path = Path(state)
        self._key = cosigner_key
        self._logs = dict(logs)  # origin -> the log's verifier key
        self._clock = clock
        self._lock = threading.Lock()

    def latest(self) -> dict[str, tuple[int, bytes]]:
        """The last cosigned size and root of each log."""
        if not self.path.exists():
            return {}
        stored = json.loads(self.path.read_text(encoding="utf-8"))
        return {origin: (int(size), base64.b64decode(root))
                for origin, (size, root) in stored.items()}

    def add_checkpoint(self, body: bytes) -> Answer:
        """Handle an add-checkpoint request body."""
        try:
            old, proof, note = _parse(body)
        except ValueError as error:
            return _text(400, str(error))
        origin = note.split("\n", 1)[0]
        verifier = self._logs.get(origin)
        if verifier is None:
            return _text(404, f"unknown log {origin!r}")
        try:
            checkpoint = verify_checkpoint(note, verifier, origin=origin)
        except CheckpointError as error:
            return _text(403, str(error))
        if old > checkpoint.size:
            return _text(400, f"old size {old} is above the checkpoint's {checkpoint.size}")
        with self._lock:
            latest = self.latest()
            size, root = latest.get(origin, (0, b""))
            if old != size:
                return Answer(409, "text/x.tlog.size", f"{size}\n".encode())
            if old == checkpoint.size and old and root != checkpoint.root:
                return Answer(409, "text/x.tlog.size", f"{size}\n".encode())
            if old:
                try:
                    verify_consistency(old, checkpoint.size, root, checkpoint.root, proof)
                except ProofError as error:
                    return _text(422, str(error))
            elif proof:
                return _text(422, "the consistency proof from size 0 must be empty")
            latest[origin] = (checkpoint.size, checkpoint.root)
            self._save(latest)
        text = note[:note.rfind("\n\n") + 1]
        return Answer(200, "text/plain; charset=utf-8",
                      cosign(text, self._key, int(self._clock())).encode())

    def _save(self, latest: dict[str, tuple[int, bytes]]) -> None:
        aside = self.path.with_name(f".{self.path.name}.tmp")
        aside.write_text(json.dumps({origin: [size, base64.b64encode(root).decode()]
                                     for origin, (size, root) in latest.items()}),
                         encoding="utf-8")
        with aside.open("rb") as file:
            os.fsync(file.fileno())
        aside.replace(self.path)


def _parse(body: bytes) -> tuple[int, list[bytes], str]:
    """Old size, proof hashes and the signed checkpoint of a request body."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("the request body is not UTF-8") from None
    head, separator, note = text.partition("\n\n")
    if not separator:
        raise ValueError("the request has no empty line before the checkpoint")
    lines = head.split("\n")
    first = lines[0]
    if not first.startswith("old ") or not _decimal(first[4:]):
        raise ValueError("the first line is 'old <size>' in decimal without leading zeros")
    if len(lines) - 1 > MAX_PROOF:
        raise ValueError(f"at most {MAX_PROOF} consistency proof lines")
    proof = []
    for line in lines[1:]:
        try:
            value = base64.b64decode(line, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"proof line {line!r} is not base64") from None
        if len(value) != 32:
            raise ValueError(f"proof line {line!r} is not a 32-byte hash")
        proof.append(value)
    try:
        Checkpoint.parse(note[:note.rfind("\n\n") + 1])
    except CheckpointError as error:
        raise ValueError(f"not a signed checkpoint: {error}") from None
    return int(first[4:]), proof, note


def _decimal(text: str) -> bool:
    return text == "0" or (text.isdigit() and text.isascii() and not text.startswith("0"))


def request_body(old: int, proof: Sequence[bytes], note: str) -> bytes:
    """The add-checkpoint body a log or hub sends."""
    lines = [f"old {old}", *(base64.b64encode(h).decode() for h in proof)]
    return ("\n".join(lines) + "\n\n" + note).encode()


def serve(witness: Witness, host: str, port: int, prefix: str = "") -> ThreadingHTTPServer:
    """An HTTP server answering ``POST <prefix>/add-checkpoint`` (call ``serve_forever``)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path != f"{prefix}/add-checkpoint":
                self._answer(_text(404, "not found"))
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._answer(_text(400, "the request body is too large"))
                return
            self._answer(witness.add_checkpoint(self.rfile.read(length)))

        def _answer(self, answer: Answer) -> None:
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the witness's record is its log."""

    return ThreadingHTTPServer((host, port), Handler)


def ask(url: str, note: str, old: int, proof: Sequence[bytes],
        timeout: float = 5.0) -> Answer:
    """POST an add-checkpoint request to the witness at ``url`` (its submission prefix)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80,
                                            timeout=timeout)
    try:
        connection.request("POST", f"{parts.path.rstrip('/')}/add-checkpoint",
                           body=request_body(old, proof, note))
        answer = connection.getresponse()
        return Answer(answer.status, answer.getheader("Content-Type") or "", answer.read())
    finally:
        connection.close()


def cosignature_of(url: str, note: str, old: int,
                   proof_from: Callable[[int], Sequence[bytes]]) -> tuple[str, int]:
    """The witness's cosignature lines on ``note`` and the size it now holds, asking from
    ``old`` and, if the witness holds another size (409), once more from that one;
    :class:`WitnessError` when it will not cosign."""
    answer = ask(url, note, old, proof_from(old))
    if answer.status == 409 and answer.content_type.startswith("text/x.tlog.size"):
        held = int(answer.body.decode().strip() or "0")
        answer = ask(url, note, held, proof_from(held))
    if answer.status != 200:
        raise WitnessError(f"witness {url} answered {answer.status}: "
                           f"{answer.body.decode(errors='replace').strip()}")
    size = Checkpoint.parse(note[:note.rfind("\n\n") + 1]).size
    return answer.body.decode(), size


class WitnessError(CheckpointError):
    """A witness that would not cosign, and what it said."""
