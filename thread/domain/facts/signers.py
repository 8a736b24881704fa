"""The signer registry: who may sign, with which key, since when, and what went wrong.

Each person who signs has their own subject (kind ``signer``, keyed by their
signer id); so does each person whose reads of controlled data or refused
attempts are on record, whether they sign or not. An administrator registers
signers, rotates and revokes their keys and unlocks them, each as a signed
fact (21 CFR 11.100, 11.300). Every signing session opened, every failed
attempt and every lock-out is recorded too, so the record shows attempts to
sign that did not succeed (11.300(d)).
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, StringConstraints

from thread.domain import topics
from thread.domain.export_control import Label
from thread.domain.facts.base import Fact, Identifier, Instant, SubjectKind, Text

Hex32 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
#: Role names: lowercase words joined by hyphens (``quality-engineer``).
Role = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$",
                                        max_length=64)]
Roles = Annotated[tuple[Role, ...], Field(min_length=1, max_length=32)]
RevocationReason = Literal["lost", "compromised", "left", "superseded", "other"]
FailureReason = Literal["wrong passphrase", "wrong key", "not registered", "revoked key",
                        "locked", "session expired", "not permitted"]


class SignerFact(Fact):
    """A fact about one registered signer."""

    subject_rule: ClassVar[topics.Subject] = topics.SIGNER
    signer: Identifier


class SignerRegistered(SignerFact):
    """A person may sign from ``valid_from`` with this Ed25519 public key, in these roles."""

    topic = "signer.registered"
    needs_signature = True
    printed_name: Annotated[Text, StringConstraints(min_length=1)]
    roles: Roles
    public_key: Hex32
    valid_from: Instant


class SignerKeyRotated(SignerFact):
    """The signer's new key: it signs from ``valid_from``; the previous key signs no more."""

    topic = "signer.key-rotated"
    needs_signature = True
    public_key: Hex32
    valid_from: Instant


class SignerKeyRevoked(SignerFact):
    """A key signs no more from now on; what it signed before stays valid."""

    topic = "signer.key-revoked"
    needs_signature = True
    public_key: Hex32
    reason: RevocationReason
    note: Text = ""


class SignerRolesChanged(SignerFact):
    """The roles a signer holds from now on."""

    topic = "signer.roles-changed"
    needs_signature = True
    roles: Roles
    reason: Text = ""


class SigningSessionOpened(SignerFact):
    """The signer identified themselves with key id and passphrase (11.200(a)(1)(i))."""

    topic = "signer.session-opened"
    public_key: Hex32


class SigningFailed(SignerFact):
    """An attempt to sign as this signer that did not succeed, and why."""

    topic = "signer.signing-failed"
    reason: FailureReason
    detail: Text = ""


class SignerLocked(SignerFact):
    """Too many failed attempts: the signer may not sign until an administrator unlocks
    them. The alert to security and the signer's management (11.300(d))."""

    topic = "signer.locked"
    failures: Annotated[int, Field(ge=1)]


class SignerUnlocked(SignerFact):
    """An administrator lets a locked signer sign again, saying why."""

    topic = "signer.unlocked"
    needs_signature = True
    reason: Annotated[Text, StringConstraints(min_length=1)]


class ControlledDataRead(SignerFact):
    """This person read export-controlled data of a subject, through one view."""

    topic = "signer.controlled-data-read"
    kind: SubjectKind
    key: Identifier
    view: Identifier
    labels: Annotated[tuple[Label, ...], Field(min_length=1, max_length=32)]


class AccessAttemptRefused(SignerFact):
    """The role policy refused this person a write, a signature or a read, by which rules."""

    topic = "signer.access-refused"
    action: Literal["record", "sign", "read"]
    what: Identifier
    kind: SubjectKind
    key: Identifier
    rules: Annotated[tuple[Text, ...], Field(max_length=32)] = ()
    detail: Text = ""
