"""The ledger's exceptions: one hierarchy, messages a quality engineer can act on."""

from __future__ import annotations

from typing import Any


class LedgerError(Exception):
    """Base of every exception the ledger raises on purpose."""


class InvalidFact(LedgerError, ValueError):  # noqa: N818 - reads as a domain term
    """A fact failed validation: names the subject, the field, the value and what was expected."""

    def __init__(
        self,
        kind: str,
        subject: str,
        problems: list[tuple[str, Any, str]],
    ) -> None:
        self.kind = kind
        self.subject = subject
        self.problems = problems
        lines = [
            f"field '{field}' = {value!r}: {expected}"
            for field, value, expected in problems
        ]
        super().__init__(f"{kind} for {subject}: " + "; ".join(lines))

    @property
    def field(self) -> str:
        """The first offending field (dotted path for nested fields)."""
        return self.problems[0][0]

    @property
    def value(self) -> Any:
        """The first offending value as given."""
        return self.problems[0][1]


class RuleViolation(LedgerError):  # noqa: N818 - a refused fact is a domain outcome
    """A well-formed fact that the ledger refuses because of what it already knows."""


class UnknownSubject(RuleViolation):
    """A fact names a part, lot, machine or design item that was never registered."""


class AlreadyRegistered(RuleViolation):
    """A registration names a subject that already exists."""


class UnreleasedRevision(RuleViolation):
    """A part was registered against a design revision that was never released."""


class GenealogyViolation(RuleViolation):
    """An installation or removal that the assembly tree does not allow."""


class QualityRuleViolation(RuleViolation):
    """A quality fact out of sequence, such as a disposition without an open non-conformance."""


class SigningRefused(RuleViolation):
    """The signer registry does not allow this signature: who, which key, and why."""

    def __init__(self, message: str, *, signer: str, reason: str) -> None:
        self.signer = signer
        self.reason = reason
        super().__init__(message)


class ConcurrencyConflict(LedgerError):  # noqa: N818
    """Another writer changed the same aggregates and retrying did not resolve it."""


class IntegrityFailure(LedgerError):  # noqa: N818
    """Stored events do not verify: names the first bad event and what is wrong."""

    def __init__(self, message: str, *, subject: str = "", version: int | None = None) -> None:
        self.subject = subject
        self.version = version
        super().__init__(message)


class SignatureInvalid(IntegrityFailure):
    """An electronic signature does not verify against its signer's public key."""


class ConfigurationError(LedgerError):
    """The ledger cannot be opened as configured (URL, key, schema)."""


class EncryptionKeyError(ConfigurationError):
    """The encryption key is missing, malformed or not the key this ledger was written with."""


class NotALedger(ConfigurationError):  # noqa: N818 - reads as what the user pointed at
    """The file or schema named holds no ledger (an empty file, another database)."""


class ReadOnlyLedger(LedgerError):  # noqa: N818 - reads as the situation it reports
    """A write to a ledger this process may only read: names the ledger and why."""


def one_line(error: LedgerError) -> str:
    """A refusal as the one line a user reads (the CLI's message, the API's detail)."""
    notes = getattr(error, "__notes__", [])
    return " ".join([str(error), *(f"({note})" for note in notes)])
