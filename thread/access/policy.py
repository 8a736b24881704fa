"""The role policy: which role may record, sign or read which kinds of fact, decided by Cedar.

A policy is a Cedar file (:file:`roles.cedar` is the default a plant copies
and changes). Principals are ``User::"<id>"`` in ``Role::"<role>"`` with the
reader attributes export control needs (``us_person``, ``citizenship``,
``licences``, ``exemptions``, ``site``, ``country``); actions are ``record``,
``sign`` and ``read``; the resource is the fact's ``Topic::"<topic>"`` in its
``Section::"<section>"`` (``Topic::"subject"`` for a read of a whole subject),
and the context carries the subject's ``kind``, ``key``, ``part_number``,
``site`` and its export-control ``labels`` (with ``controlled``, ``ear99`` and
``residency`` worked out of them by :func:`thread.domain.export_control.policy_context`). A refusal
names the rule that forbade it, or says that none permits it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from thread.domain import topics
from thread.domain.export_control import policy_context
from thread.errors import LedgerError

Action = Literal["record", "sign", "read"]
#: The resource of a read of a whole subject (a story, a history, a record).
SUBJECT = "subject"


class PolicyError(LedgerError):
    """A policy file that cannot be used: where, and what Cedar said."""


class AccessRefused(LedgerError):  # noqa: N818 - the words a user reads
    """The role policy does not allow this: who, what, on what, and which rule."""

    def __init__(self, message: str, *, rules: tuple[str, ...], action: Action = "read",
                 resource: Resource | None = None) -> None:
        self.rules = rules
        self.action: Action = action
        self.resource = resource
        super().__init__(message)


@dataclass(frozen=True)
class Identity:
    """Who is asking: their id, roles, and the attributes export control looks at.

    ``licences`` name the labels a licence authorises (``ITAR:XI``, ``EAR:3A001``);
    ``exemptions`` the exemptions held, for a plant's own rules; ``country`` where the
    reader works (ISO 3166 alpha-2), for data-residency labels.
    """

    user: str
    roles: tuple[str, ...] = ()
    us_person: bool = False
    citizenship: tuple[str, ...] = ()
    licences: tuple[str, ...] = ()
    exemptions: tuple[str, ...] = ()
    site: str | None = None
    country: str | None = None

    @classmethod
    def from_file(cls, path: str | Path) -> Identity:
        """A reader described in a JSON file: ``{"user": ..., "roles": [...], "us_person":
        ..., "citizenship": [...], "licences": [...], "exemptions": [...], "site": ...,
        "country": ...}``."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise PolicyError(f"identity file {path}: {error}") from None
        return cls.from_mapping(data, f"identity file {path}")

    @classmethod
    def from_mapping(cls, data: object, where: str) -> Identity:
        """An identity from its JSON object (see :meth:`from_file`); ``where`` names it in
        the one line a bad one gets."""
        if not isinstance(data, dict) or not isinstance(data.get("user"), str):
            raise PolicyError(f"{where}: expected a JSON object with a \"user\" string")
        lists = ("roles", "citizenship", "licences", "exemptions")
        known = {"user", "us_person", "site", "country", *lists}
        unknown = sorted(set(data) - known)
        if unknown:
            raise PolicyError(f"{where}: unknown field {unknown[0]!r}; expected "
                              f"{', '.join(sorted(known))}")
        for name in lists:
            value = data.get(name, [])
            if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
                raise PolicyError(f"{where}: {name} is {value!r}; expected a list of strings")
        if not isinstance(data.get("us_person", False), bool):
            raise PolicyError(f"{where}: us_person is {data['us_person']!r}; expected true or "
                              f"false")
        for name in ("site", "country"):
            if not isinstance(data.get(name), str | None):
                raise PolicyError(f"{where}: {name} is {data[name]!r}; expected a string")
        return cls(data["user"], tuple(data.get("roles", [])), data.get("us_person", False),
                   tuple(data.get("citizenship", [])), tuple(data.get("licences", [])),
                   tuple(data.get("exemptions", [])), data.get("site"), data.get("country"))


@dataclass(frozen=True)
class Resource:
    """What is asked for: a kind of fact (or a whole subject) of one subject."""

    topic: str
    kind: str
    key: str
    part_number: str | None = None
    site: str | None = None
    labels: tuple[str, ...] = ()

    def context(self) -> dict[str, Any]:
        return {"kind": self.kind, "key": self.key, "part_number": self.part_number or "",
                "site": self.site or "", **policy_context(self.labels)}


@dataclass(frozen=True)
class Decision:
    """Cedar's answer, and the rules (their @id) that decided it."""

    allowed: bool
    rules: tuple[str, ...]
    action: Action
    resource: Resource
    identity: Identity = field(repr=False)

    def explain(self) -> str:
        """One line: who may not do what, and why."""
        on = f"{self.resource.kind} {self.resource.key}" + (
            f" (labelled {', '.join(self.resource.labels)})" if self.resource.labels else "")
        what = ("read" if self.resource.topic == SUBJECT
                else f"{self.action} {self.resource.topic} on")
        roles = ", ".join(self.identity.roles) or "no role"
        because = (f"forbidden by rule {', '.join(repr(r) for r in self.rules)}" if self.rules
                   else "no rule of the policy permits it")
        return f"{self.identity.user} ({roles}) may not {what} {on}: {because}"


class Policy:
    """A parsed Cedar policy with the ledger's entities; decides in tens of microseconds."""

    def __init__(self, text: str, source: str = "policy") -> None:
        import cedarpy

        self.source = source
        try:
            self._policies = cedarpy.PolicySet.from_str(text)
            described = json.loads(cedarpy.policies_to_json_str(text))
        except ValueError as error:
            raise PolicyError(f"{source}: {error}") from None
        self._names = {
            pid: str(body.get("annotations", {}).get("id", pid))
            for pid, body in described.get("staticPolicies", {}).items()}
        self._static = _topic_entities()
        self._entities: dict[Identity, Any] = {}

    @classmethod
    def from_file(cls, path: str | Path) -> Policy:
        """The policy in a Cedar file."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise PolicyError(f"policy file {path}: {error}") from None
        return cls(text, str(path))

    @classmethod
    def default(cls) -> Policy:
        """The ledger's default policy for the standard roles (``roles.cedar``)."""
        return cls(cls.default_text(), "the default role policy")

    @staticmethod
    def default_text() -> str:
        """The Cedar text of the default policy, for a plant to extend."""
        return resources.files("thread.access").joinpath("roles.cedar").read_text("utf-8")

    def decide(self, identity: Identity, action: Action, resource: Resource) -> Decision:
        """Whether ``identity`` may ``action`` the ``resource``, and by which rules."""
        import cedarpy

        request = {"principal": _uid("User", identity.user),
                   "action": _uid("Action", action),
                   "resource": _uid("Topic", resource.topic),
                   "context": resource.context()}
        answer = cedarpy.is_authorized(request, self._policies, self._of(identity))
        errors = list(answer.diagnostics.errors)
        if errors:
            raise PolicyError(f"{self.source}: evaluating {action} of {resource.topic}: "
                              f"{errors[0]}")
        allowed = answer.decision == cedarpy.Decision.Allow
        rules = tuple(self._names.get(pid, pid) for pid in answer.diagnostics.reasons)
        return Decision(allowed, rules, action, resource, identity)

    def check(self, identity: Identity, action: Action, resource: Resource) -> None:
        """Raise :class:`AccessRefused` unless the policy allows it."""
        decision = self.decide(identity, action, resource)
        if not decision.allowed:
            raise AccessRefused(decision.explain(), rules=decision.rules, action=action,
                                resource=resource)

    def _of(self, identity: Identity) -> Any:
        entities = self._entities.get(identity)
        if entities is None:
            import cedarpy

            user = {"uid": {"type": "User", "id": identity.user},
                    "attrs": {"us_person": identity.us_person,
                              "citizenship": list(identity.citizenship),
                              "licences": list(identity.licences),
                              "exemptions": list(identity.exemptions),
                              "site": identity.site or "", "country": identity.country or ""},
                    "parents": [{"type": "Role", "id": role} for role in identity.roles]}
            roles = [{"uid": {"type": "Role", "id": role}, "attrs": {}, "parents": []}
                     for role in identity.roles]
            entities = cedarpy.Entities.from_json_str(json.dumps([user, *roles, *self._static]))
            if len(self._entities) > 1024:
                self._entities.clear()
            self._entities[identity] = entities
        return entities


def _uid(kind: str, name: str) -> str:
    return f"{kind}::{json.dumps(name)}"


def _topic_entities() -> list[dict[str, Any]]:
    """Every topic as an entity in its section, and the sections themselves."""
    sections = sorted({entry.section for entry in topics.TOPICS.values()})
    listed: list[dict[str, Any]] = [
        {"uid": {"type": "Section", "id": section}, "attrs": {}, "parents": []}
        for section in sections]
    listed += [{"uid": {"type": "Topic", "id": name}, "attrs": {},
                "parents": [{"type": "Section", "id": entry.section}]}
               for name, entry in topics.TOPICS.items()]
    listed.append({"uid": {"type": "Topic", "id": SUBJECT}, "attrs": {}, "parents": []})
    return listed
