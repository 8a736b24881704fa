"""The digital-thread ledger: one verifiable record of every part, from design to field."""

from thread import facts
from thread.bootstrap import open
from thread.domain import DesignItem, Lot, Machine, Part, Recorded
from thread.domain.signature import Signer, verify_signature
from thread.errors import (
    AlreadyRegistered,
    ConcurrencyConflict,
    ConfigurationError,
    EncryptionKeyError,
    GenealogyViolation,
    IntegrityFailure,
    InvalidFact,
    LedgerError,
    QualityRuleViolation,
    RuleViolation,
    SignatureInvalid,
    UnknownSubject,
    UnreleasedRevision,
)
from thread.ledger import Batch, Ledger, Receipt

__all__ = [
    "AlreadyRegistered",
    "Batch",
    "ConcurrencyConflict",
    "ConfigurationError",
    "DesignItem",
    "EncryptionKeyError",
    "GenealogyViolation",
    "IntegrityFailure",
    "InvalidFact",
    "Ledger",
    "LedgerError",
    "Lot",
    "Machine",
    "Part",
    "QualityRuleViolation",
    "Receipt",
    "Recorded",
    "RuleViolation",
    "SignatureInvalid",
    "Signer",
    "UnknownSubject",
    "UnreleasedRevision",
    "facts",
    "open",
    "verify_signature",
]
