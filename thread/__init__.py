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
from thread.storage.encryption import new_key as new_encryption_key

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
    "new_encryption_key",
    "open",
    "verify_signature",
]
