"""A signing session (21 CFR 11.200(a)(1)): the first signing with both components, the
signer's id and their passphrase; later signings in the same session with the passphrase,
until the session has been idle too long.

Each attempt that fails (a wrong passphrase, a key that is not the signer's, a revoked
key, a locked signer) is recorded on the signer's subject, and the attempt that reaches
the limit locks them (:meth:`thread.ledger.Ledger.signing_failed`). The private key is
opened from its file for each signing and not kept between them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from thread.domain import facts as f
from thread.domain.signature import Signer
from thread.errors import LedgerError, SigningRefused, UnknownSubject
from thread.signing.keys import WrongPassphrase, public_hex, read_signer_key

if TYPE_CHECKING:
    from thread.domain.facts.signers import FailureReason
    from thread.ledger import Ledger

#: How long a session may sit unused before the signer must identify themselves again.
DEFAULT_IDLE = timedelta(minutes=15)


class SessionExpired(LedgerError):  # noqa: N818 - the words a signer reads
    """The session was idle too long, or never opened: sign in with id and passphrase."""


class SigningSession:
    """One person's signing session on one ledger.

    >>> session = SigningSession(ledger, "k.osei", Path("k.osei.key"))
    >>> signer = session.open(passphrase)     # id + passphrase: the first signing
    >>> ledger.record(disposition, sign=signer)
    >>> ledger.record(release, sign=session.signer(passphrase))  # later: passphrase only
    """

    def __init__(self, ledger: Ledger, signer: str, key_file: Path, *,
                 idle: timedelta = DEFAULT_IDLE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ledger = ledger
        self.signer_id = signer
        self.key_file = key_file
        self.idle = idle
        self._clock = clock
        self._last: float | None = None

    @property
    def is_open(self) -> bool:
        """Whether a signing now needs only the passphrase."""
        return self._last is not None and self._clock() - self._last <= self.idle.total_seconds()

    def open(self, passphrase: str) -> Signer:
        """Start the session: the signer's id (given) and passphrase; records the session."""
        signer = self._unlock(passphrase)
        self.ledger.record(f.SigningSessionOpened(signer=self.signer_id,
                                                  public_key=signer.public_key.hex()),
                           source="signing")
        self._last = self._clock()
        return signer

    def signer(self, passphrase: str) -> Signer:
        """The signer for one more signing in an open session (passphrase only)."""
        if not self.is_open:
            self._last = None
            raise SessionExpired(f"the signing session of {self.signer_id} is not open (idle "
                                 f"for more than {self.idle}); open it with your id and "
                                 f"passphrase")
        signer = self._unlock(passphrase)
        self._last = self._clock()
        return signer

    def close(self) -> None:
        """End the session: the next signing needs both components again."""
        self._last = None

    def _unlock(self, passphrase: str) -> Signer:
        try:
            account = self.ledger.signer(self.signer_id)
        except UnknownSubject:
            raise SigningRefused(f"{self.signer_id} is not in the signer registry; an "
                                 f"administrator registers them first (thread signer add)",
                                 signer=self.signer_id, reason="not registered") from None
        if account.locked:
            self._fail("locked", f"{self.signer_id} is locked after failed attempts; an "
                                 f"administrator must unlock them (thread signer unlock)")
        try:
            key = read_signer_key(self.key_file, passphrase)
        except WrongPassphrase as error:
            self._fail("wrong passphrase", str(error))
        refusal = account.refusal(public_hex(key), self.ledger.clock())
        if refusal is not None:
            self._fail(refusal.reason, f"{self.key_file.name}: {refusal.detail}")
        return Signer(self.signer_id, account.printed_name, key)

    def _fail(self, reason: FailureReason, detail: str) -> NoReturn:
        locked = self.ledger.signing_failed(self.signer_id, reason, detail)
        self._last = None
        raise SigningRefused(f"signing as {self.signer_id} refused: {detail}"
                             + ("; the signer is now locked" if locked else ""),
                             signer=self.signer_id, reason=reason)

