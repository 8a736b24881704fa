"""What every fact is: a frozen pydantic model with a stable topic and a class version.

Each kind of fact names its subject (a part by serial or lot, a machine, a
design item by part number) in its own fields, so one call records it
against the right aggregate. Old stored facts are brought up to the current
class version by ``upcast_vN_vN+1`` class methods before validation.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from functools import cached_property
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
    ValidationError,
    model_validator,
)

from thread.domain import topics
from thread.errors import InvalidFact, LedgerError

#: Aggregate kinds a fact can be about.
SubjectKind = Literal["part", "lot", "machine", "design", "signer", "site"]

def identifier(value: str) -> str:
    """An identifier as the ledger keeps it: Unicode NFC, so "SN-Å" typed precomposed or
    decomposed is one serial; control and invisible format characters are refused."""
    if value.isascii() and value.isprintable():
        return value  # already NFC; printable ASCII holds no Cc and no Cf character
    normal = unicodedata.normalize("NFC", value)
    bad = next((c for c in normal if unicodedata.category(c) in ("Cc", "Cf")), None)
    if bad is not None:
        raise ValueError(f"an identifier without control characters (found U+{ord(bad):04X})")
    return normal


def _identifier(value: Any) -> Any:
    return identifier(value) if isinstance(value, str) else value


#: An identifier from the floor or a business system: NFC, no control characters, no
#: surrounding blanks.
Identifier = Annotated[
    str, BeforeValidator(_identifier),
    StringConstraints(min_length=1, max_length=128, pattern=r"^\S(?:.*\S)?$"),
]
#: Free text, bounded so a runaway export cannot bloat the ledger.
Text = Annotated[str, StringConstraints(max_length=4000)]
#: A SHA-256 digest of a document, written ``sha256:`` and 64 lowercase hex digits.
Digest = Annotated[str, StringConstraints(pattern=r"^sha256:[0-9a-f]{64}$")]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _to_utc(value: datetime) -> datetime:
    if value < _EPOCH:
        raise ValueError(f"a time from 1970 on (got {value.isoformat()})")
    return value.astimezone(UTC)


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"a number, not the boolean {value}")
    return value


#: A measured or required value: a finite number, never a boolean.
Number = Annotated[float, BeforeValidator(_not_bool)]


#: A time with a zone, stored in UTC.
Instant = Annotated[AwareDatetime, AfterValidator(_to_utc)]


class UnknownTopic(LedgerError):  # noqa: N818
    """A stored event names a topic no fact class is registered for."""


class DuplicateTopic(LedgerError):  # noqa: N818
    """Two fact classes claim the same topic at the same class version."""


_REGISTRY: dict[str, type[Fact]] = {}


def fact_class(topic: str) -> type[Fact]:
    """The current fact class for ``topic``."""
    try:
        return _REGISTRY[topic]
    except KeyError:
        raise UnknownTopic(f"no fact class is registered for topic {topic!r}") from None


def fact_classes() -> dict[str, type[Fact]]:
    """Every registered topic and its current class."""
    return dict(_REGISTRY)


class Fact(BaseModel):
    """A typed fact in a part's life. Subclasses set ``topic`` and the subject fields."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        allow_inf_nan=False,
        validate_default=False,
        ser_json_bytes="base64",
        val_json_bytes="base64",
    )

    topic: ClassVar[str]
    class_version: ClassVar[int] = 1
    #: Which fields name the subject (the catalogue in :mod:`thread.domain.topics` says it
    #: for every built-in topic; this is the default for fact kinds defined elsewhere).
    subject_rule: ClassVar[topics.Subject] = topics.ANY
    #: Whether the ledger refuses this kind of fact without an electronic signature.
    needs_signature: ClassVar[bool] = False

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as error:
            raise invalid(type(self), topics.subject_label(self.topic, data)
                          or "unknown subject", error) from None

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        topic = cls.__dict__.get("topic")
        if topic is None:
            return
        existing = _REGISTRY.get(topic)
        if topics.topic(topic) is None:
            # A fact kind from outside the catalogue: described by its base class.
            topics.register(topics.Topic(topic, cls.subject_rule, topics.fields, None,
                                         topics.section_of(topic), ()))
        if existing is not None and existing.class_version >= cls.class_version:
            if existing.__qualname__ == cls.__qualname__ and existing.__module__ == cls.__module__:
                _REGISTRY[topic] = cls  # module reloaded
                return
            raise DuplicateTopic(
                f"topic {topic!r} is already {existing.__module__}.{existing.__qualname__} "
                f"at class version {existing.class_version}; a new class for it needs a "
                f"higher class_version and upcasters"
            )
        _REGISTRY[topic] = cls

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Self:
        """Validate ``data`` into this fact, raising :class:`InvalidFact` on bad input."""
        return cls(**data)

    @classmethod
    def upcast(cls, state: dict[str, Any], from_version: int) -> dict[str, Any]:
        """Bring a stored payload from ``from_version`` up to ``class_version``."""
        if from_version > cls.class_version:
            raise UnknownTopic(
                f"stored {cls.topic!r} is class version {from_version}, newer than this "
                f"library's {cls.class_version}; upgrade the library to read it"
            )
        while from_version < cls.class_version:
            step = getattr(cls, f"upcast_v{from_version}_v{from_version + 1}", None)
            if step is None:
                raise UnknownTopic(
                    f"{cls.__qualname__} has no upcast_v{from_version}_v{from_version + 1}"
                )
            step(state)
            from_version += 1
        return state

    @cached_property
    def subject(self) -> tuple[SubjectKind, str]:
        """The aggregate this fact is recorded against: (kind, natural key); a fact is
        frozen, so it is worked out once."""
        return topics.subject_of(self.topic, self.__dict__)  # type: ignore[return-value]

    def references(self) -> list[tuple[SubjectKind, str]]:
        """Other subjects this fact names, which must already exist."""
        return []


class PartFact(Fact):
    """A fact about one serialised part or one lot: exactly one of ``serial``, ``lot``."""

    subject_rule: ClassVar[topics.Subject] = topics.ITEM
    serial: Identifier | None = None
    lot: Identifier | None = None

    @model_validator(mode="after")
    def _one_subject(self) -> Self:
        if (self.serial is None) == (self.lot is None):
            raise ValueError("exactly one of 'serial' or 'lot'")
        return self



class LotFact(Fact):
    """A fact that only a lot can have, such as a material receipt."""

    subject_rule: ClassVar[topics.Subject] = topics.LOT
    lot: Identifier


class SubjectFact(Fact):
    """A fact that may be about any kind of subject (signatures, corrections)."""

    kind: SubjectKind
    key: Identifier


class MachineFact(Fact):
    """A fact in a machine's own stream."""

    subject_rule: ClassVar[topics.Subject] = topics.MACHINE
    machine: Identifier


class DesignFact(Fact):
    """A fact about a design item, keyed by part number."""

    subject_rule: ClassVar[topics.Subject] = topics.DESIGN
    part_number: Identifier



def invalid(cls: type[BaseModel], subject: str, error: ValidationError) -> InvalidFact:
    """Our error for a pydantic validation error: subject, fields, values, expectations."""
    problems: list[tuple[str, Any, str]] = []
    for item in error.errors(include_url=False):
        field = ".".join(str(part) for part in item["loc"]) or "(fact)"
        value = item.get("input")
        message = item["msg"]
        if message.startswith("Value error, "):
            message = "expected " + message[len("Value error, ") :]
        elif message.startswith("Input should be "):
            message = "expected " + message[len("Input should be ") :]
        else:
            message = "expected a valid value: " + message
        if item["type"] == "missing":
            value, message = None, "expected a value (the field is required)"
        elif item["type"] == "extra_forbidden":
            message = f"expected no such field: {cls.__name__} does not have it"
        problems.append((field, value, message))
    return InvalidFact(cls.__name__, subject, problems)
