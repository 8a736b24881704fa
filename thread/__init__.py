"""The digital-thread ledger: one verifiable record of every part, from design to field."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from thread.errors import (
    AlreadyRegistered,
    ConcurrencyConflict,
    ConfigurationError,
    EncryptionKeyError,
    GenealogyViolation,
    IntegrityFailure,
    InvalidFact,
    LedgerError,
    NotALedger,
    QualityRuleViolation,
    ReadOnlyLedger,
    RuleViolation,
    SignatureInvalid,
    UnknownSubject,
    UnreleasedRevision,
)

if TYPE_CHECKING:
    from thread import facts
    from thread.access.policy import AccessRefused, Identity, Policy
    from thread.analytics.corrective import Effectiveness
    from thread.analytics.feedback import DesignFeedback
    from thread.analytics.patterns import FailurePatterns, Finding
    from thread.analytics.spc import SpcChart
    from thread.bootstrap import open
    from thread.domain import DesignItem, Lot, Machine, Part, Recorded
    from thread.domain.signature import Signer, verify_signature
    from thread.ledger import Batch, InclusionProof, Ledger, Receipt, Stream
    from thread.read.conditions import ConditionSeries
    from thread.read.drift import DriftAlert, DriftState, WatchedChart
    from thread.read.genealogy import Node
    from thread.read.recall import RecallScope
    from thread.read.series import Measured, Series, SeriesPoint
    from thread.read.story import Story
    from thread.signing.ceremony import SigningSession
    from thread.storage.encryption import new_key as new_encryption_key
    from thread.storage.keyring import Keyring

# The ledger, its storage and drivers load on first use, so that an auditor's
# ``import thread.log.verify`` loads the verifier and nothing of the storage layer.
_LAZY = {
    "facts": ("thread.facts", None),
    "open": ("thread.bootstrap", "open"),
    "DesignItem": ("thread.domain", "DesignItem"),
    "Lot": ("thread.domain", "Lot"),
    "Machine": ("thread.domain", "Machine"),
    "Part": ("thread.domain", "Part"),
    "Recorded": ("thread.domain", "Recorded"),
    "Signer": ("thread.domain.signature", "Signer"),
    "SigningSession": ("thread.signing.ceremony", "SigningSession"),
    "AccessRefused": ("thread.access.policy", "AccessRefused"),
    "Identity": ("thread.access.policy", "Identity"),
    "Policy": ("thread.access.policy", "Policy"),
    "verify_signature": ("thread.domain.signature", "verify_signature"),
    "Batch": ("thread.ledger", "Batch"),
    "InclusionProof": ("thread.ledger", "InclusionProof"),
    "Ledger": ("thread.ledger", "Ledger"),
    "Receipt": ("thread.ledger", "Receipt"),
    "Stream": ("thread.ledger", "Stream"),
    "new_encryption_key": ("thread.storage.encryption", "new_key"),
    "Keyring": ("thread.storage.keyring", "Keyring"),
    "Story": ("thread.read.story", "Story"),
    "Node": ("thread.read.genealogy", "Node"),
    "RecallScope": ("thread.read.recall", "RecallScope"),
    "ConditionSeries": ("thread.read.conditions", "ConditionSeries"),
    "FailurePatterns": ("thread.analytics.patterns", "FailurePatterns"),
    "Finding": ("thread.analytics.patterns", "Finding"),
    "Effectiveness": ("thread.analytics.corrective", "Effectiveness"),
    "Series": ("thread.read.series", "Series"),
    "SeriesPoint": ("thread.read.series", "SeriesPoint"),
    "Measured": ("thread.read.series", "Measured"),
    "DriftState": ("thread.read.drift", "DriftState"),
    "DriftAlert": ("thread.read.drift", "DriftAlert"),
    "WatchedChart": ("thread.read.drift", "WatchedChart"),
    "SpcChart": ("thread.analytics.spc", "SpcChart"),
    "DesignFeedback": ("thread.analytics.feedback", "DesignFeedback"),
}


def __getattr__(name: str) -> Any:
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'thread' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value

__all__ = [
    "AccessRefused",
    "AlreadyRegistered",
    "Batch",
    "ConcurrencyConflict",
    "ConditionSeries",
    "ConfigurationError",
    "DesignFeedback",
    "DesignItem",
    "DriftAlert",
    "DriftState",
    "Effectiveness",
    "EncryptionKeyError",
    "FailurePatterns",
    "Finding",
    "GenealogyViolation",
    "Identity",
    "InclusionProof",
    "IntegrityFailure",
    "InvalidFact",
    "Keyring",
    "Ledger",
    "LedgerError",
    "Lot",
    "Machine",
    "Measured",
    "Node",
    "NotALedger",
    "Part",
    "Policy",
    "QualityRuleViolation",
    "ReadOnlyLedger",
    "RecallScope",
    "Receipt",
    "Recorded",
    "RuleViolation",
    "Series",
    "SeriesPoint",
    "SignatureInvalid",
    "Signer",
    "SigningSession",
    "SpcChart",
    "Story",
    "Stream",
    "UnknownSubject",
    "UnreleasedRevision",
    "WatchedChart",
    "facts",
    "new_encryption_key",
    "open",
    "verify_signature",
]
