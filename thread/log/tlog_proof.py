"""c2sp.org/tlog-proof: an entry's inclusion in a log, with the checkpoint it is proved
against, as one self-contained text an auditor verifies offline.

::

    c2sp.org/tlog-proof@v1
    [extra <base64>]
    index <decimal>
    <base64 hash of the audit path, the leaf's sibling first, one per line>
    <empty line>
    <the checkpoint note, verbatim, with its signature and cosignature lines>

The extra data is not authenticated, and this module never trusts it. Which keys must
have signed and cosigned the checkpoint is the verifier's to say (a key, or a
:class:`~thread.log.trust_policy.TrustPolicy`).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from thread.log.checkpoint import Checkpoint, CheckpointError
from thread.log.merkle import HASH_SIZE, ProofError, leaf_hash
from thread.log.verify import verify_inclusion

HEADER = "c2sp.org/tlog-proof@v1"
_DECIMAL = re.compile(r"0|[1-9][0-9]*", re.ASCII)


class TlogProofError(CheckpointError):
    """A tlog-proof that breaks the format or does not prove its entry: which, and why."""


@dataclass(frozen=True)
class TlogProof:
    """An entry's index, its audit path and the checkpoint note they lead to."""

    index: int
    path: tuple[bytes, ...]
    checkpoint: str
    extra: bytes | None = None

    def text(self) -> str:
        """The proof in its c2sp.org/tlog-proof@v1 text."""
        lines = [HEADER]
        if self.extra is not None:
            lines.append(f"extra {base64.b64encode(self.extra).decode()}")
        lines.append(f"index {self.index}")
        lines += [base64.b64encode(node).decode() for node in self.path]
        return "\n".join(lines) + "\n\n" + self.checkpoint

    @classmethod
    def parse(cls, text: str) -> TlogProof:
        """A proof's text, read strictly."""
        head, separator, checkpoint = text.partition("\n\n")
        lines = head.split("\n")
        if not separator or lines[0] != HEADER:
            raise TlogProofError(f"not a tlog-proof: expected the first line {HEADER!r} and an "
                                 f"empty line before the checkpoint")
        at, extra = 1, None
        if len(lines) > at and lines[at].startswith("extra "):
            extra = _base64(lines[at][len("extra "):], "extra", size=None)
            at += 1
        if len(lines) <= at or not lines[at].startswith("index ") or not _DECIMAL.fullmatch(
                lines[at][len("index "):]):
            raise TlogProofError("tlog-proof: expected 'index <decimal without leading zeroes>' "
                                 "after the header")
        index = int(lines[at][len("index "):])
        path = tuple(_base64(line, f"hash {n}", size=HASH_SIZE)
                     for n, line in enumerate(lines[at + 1:], start=1))
        return cls(index, path, checkpoint, extra)

    def verify(self, entry: bytes) -> Checkpoint:
        """Check that ``entry`` is the log's entry at :attr:`index` in the tree the
        checkpoint signs; the checkpoint (not its signatures: the caller checks those)."""
        try:
            checkpoint = Checkpoint.parse(self.checkpoint[:self.checkpoint.rfind("\n\n") + 1])
        except CheckpointError as error:
            raise TlogProofError(f"tlog-proof: its checkpoint: {error}") from None
        try:
            verify_inclusion(leaf_hash(entry), self.index, checkpoint.size, self.path,
                             checkpoint.root)
        except ProofError as error:
            raise TlogProofError(f"tlog-proof: entry {self.index} is not in the tree of "
                                 f"{checkpoint.size} entries of {checkpoint.origin}: {error}"
                                 ) from None
        return checkpoint


def _base64(text: str, what: str, *, size: int | None) -> bytes:
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise TlogProofError(f"tlog-proof: {what} is not base64") from None
    if size is not None and len(data) != size:
        raise TlogProofError(f"tlog-proof: {what} has {len(data)} bytes, expected {size}")
    return data
