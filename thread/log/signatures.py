"""The signature pass of ``thread verify``: every electronic signature in the log checked
against its signer's key, and against the signer registry as it stood at that signature's
position in the log (a key revoked earlier in the log signs nothing later, whatever time
the signature claims).

It reads only signatures and registry facts, in log order, so it costs what
they cost, not what the ledger holds. From a trusted checkpoint (``thread
verify --from``) only the signatures committed since are judged, against the
registry read from the chains of the signers they involve (and, for where the
registry was founded, the log up to its first registration).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from thread.domain import facts as f
from thread.domain.chain import Recorded
from thread.domain.facts.base import Fact
from thread.domain.signature import verify_signature
from thread.domain.signers import SignerAccount, signing_refusal
from thread.errors import IntegrityFailure, SignatureInvalid
from thread.ledger import Ledger
from thread.storage.recorder import LogRow

#: Facts that change what the registry allows.
REGISTRY_TOPICS = tuple(cls.topic for cls in (
    f.SignerRegistered, f.SignerKeyRotated, f.SignerKeyRevoked, f.SignerRolesChanged,
    f.SigningSessionOpened, f.SigningFailed, f.SignerLocked, f.SignerUnlocked))

#: Called with a problem: (notification id, event, what is wrong).
Problem = Callable[[int, Recorded, str], None]


def check_signatures(ledger: Ledger, problem: Problem, *, until: int | None = None) -> int:
    """Check every stored signature (up to row id ``until``); report each bad one. Returns
    how many were checked."""
    # every signature, whoever verifies: not filtered by a reader's clearance
    return _judge_in_order(ledger._scan(topics=(f.SignatureApplied.topic, *REGISTRY_TOPICS)),
                           problem, until=until)


def check_signatures_since(ledger: Ledger, problem: Problem, *, start: int,
                           until: int | None = None) -> int:
    """Check the signatures stored from row id ``start`` on (up to ``until``) as
    :func:`check_signatures` checks each, without reading the whole log: the registry as it
    stood at each one is folded from the whole chains of the signers involved (the one who
    signed, and a signer whose registry fact was signed), and whether it was in use from the
    log's first registration. Returns how many were checked."""
    store = ledger.store
    try:
        new = {notification: event for notification, event in ledger._scan(
                   start=start, topics=(f.SignatureApplied.topic, *REGISTRY_TOPICS))
               if until is None or notification <= until}
        signatures = [event.fact for event in new.values()
                      if isinstance(event.fact, f.SignatureApplied)]
        if not signatures:
            return 0
        signers = {fact.subject[1] for fact in (event.fact for event in new.values())}
        signers |= {signature.signer for signature in signatures}
        stream = dict(new)
        wanted = set(ledger.mapper.topic_tokens([f.SignatureApplied.topic, *REGISTRY_TOPICS]))
        idents = {ledger.mapper.subject_id("signer", name): name for name in sorted(signers)}
        versions = store.select_versions(sorted(idents))
        for ident, count in sorted(versions.items()):
            for row in map(LogRow._make, store.select_chains((ident, 0), count)):
                if row.topic in wanted and row.id not in stream and (
                        until is None or row.id <= until):
                    stream[row.id] = ledger.mapper.decode(row)  # type: ignore[arg-type]
        founded = store.select_notifications(1, 1, stop=max(new), topics=ledger.mapper.topic_tokens(
            [f.SignerRegistered.topic]))
    except IntegrityFailure:
        return 0  # an event that does not decode: the log and chain passes name it
    return _judge_in_order(sorted(stream.items()), problem, from_row=start,
                           first_registration=founded[0].id if founded else None)


def _judge_in_order(events: Iterable[tuple[int, Recorded]], problem: Problem, *,
                    until: int | None = None, from_row: int = 0,
                    first_registration: int | None = None) -> int:
    """Signatures and registry facts in log order: each signature from row ``from_row`` on
    judged against the accounts folded so far; how many were judged."""
    accounts: dict[str, SignerAccount] = {}
    signer_facts: dict[tuple[str, int], tuple[int, Fact]] = {}
    checked = 0
    try:
        for notification, event in events:
            if until is not None and notification > until:
                continue  # committed after the moment verified
            fact = event.fact
            if isinstance(fact, f.SignatureApplied):
                if notification >= from_row:
                    checked += 1
                    what = _judge(fact, notification, accounts, signer_facts,
                                  first_registration)
                    if what:
                        problem(notification, event, what)
                if fact.kind == "signer":
                    _apply(accounts, fact.key, event)
                continue
            _, key = fact.subject
            signer_facts[(key, event.originator_version)] = (notification, fact)
            _apply(accounts, key, event)
            if isinstance(fact, f.SignerRegistered) and first_registration is None:
                first_registration = notification
    except IntegrityFailure:
        pass  # an event that does not decode: the log and chain passes name it
    return checked


def _apply(accounts: dict[str, SignerAccount], key: str, event: Recorded) -> None:
    account = accounts.get(key)
    if account is None:
        account = accounts[key] = SignerAccount(kind_key=key)
    account.apply(event)
    account.version = event.originator_version


def _judge(signature: f.SignatureApplied, notification: int,
           accounts: dict[str, SignerAccount],
           signer_facts: dict[tuple[str, int], tuple[int, Fact]],
           first_registration: int | None) -> str:
    try:
        verify_signature(signature)
    except SignatureInvalid as error:
        return str(error)
    # The registry was in use if a signer was registered before the signed event (for a
    # signature on a registry fact) or before the signature (elsewhere).
    signed: Fact = signature
    since = notification
    if signature.kind == "signer":
        since, signed = signer_facts.get((signature.key, signature.signed_version),
                                         (notification, signature))
    in_use = first_registration is not None and first_registration < since
    account = accounts.get(signature.signer) or SignerAccount(kind_key=signature.signer)
    refusal = signing_refusal(signed, signature.signer, signature.public_key,
                              signature.signed_at, account, in_use)
    if refusal is None:
        return ""
    return (f"signature by {signature.signer} on version {signature.signed_version} is not "
            f"one the signer registry allowed at this position: {refusal.detail}")
