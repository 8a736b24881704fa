"""Value objects shared by several facts: readings, parameter summaries, characteristics."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from thread.domain.facts.base import Identifier, Number, Text, invalid
from thread.domain.units import Unit

_FROZEN = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, ser_json_bytes="base64",
                     val_json_bytes="base64")  # raw samples go to JSON as base64, as facts do


class Value(BaseModel):
    """A value object inside a fact; bad input raises :class:`~thread.errors.InvalidFact`."""

    model_config = _FROZEN

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as error:
            name = data.get("name") or data.get("balloon") or ""
            raise invalid(type(self), f"{type(self).__name__} {name}".strip(), error) from None

#: How critical a design characteristic is (AS9102 Form 3, field 7).
Designator = Literal["none", "key", "critical", "flight-safety"]


class Reading(Value):
    """One named value with its unit."""

    name: Identifier
    value: float
    unit: Unit


class ParameterSummary(Value):
    """A process parameter over one operation: n, min, max, mean, sd, optional raw samples."""

    name: Identifier
    unit: Unit
    n: Annotated[int, Field(ge=1)]
    min: float
    max: float
    mean: float
    sd: Annotated[float, Field(ge=0)]
    samples: bytes | None = None
    samples_encoding: Identifier | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.min <= self.mean <= self.max:
            raise ValueError(
                f"min <= mean <= max for parameter '{self.name}' "
                f"(got min {self.min}, mean {self.mean}, max {self.max})"
            )
        if (self.samples is None) != (self.samples_encoding is None):
            raise ValueError("'samples' and 'samples_encoding' given together")
        return self


class ConditionMetric(Value):
    """A machine condition signal over a window, with its alarm threshold."""

    name: Identifier
    unit: Unit
    n: Annotated[int, Field(ge=1)]
    min: float
    max: float
    mean: float
    threshold: float | None = None

    @property
    def exceeded(self) -> bool:
        """True when the window's maximum passed the threshold."""
        return self.threshold is not None and self.max > self.threshold

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.min <= self.mean <= self.max:
            raise ValueError(
                f"min <= mean <= max for metric '{self.name}' "
                f"(got min {self.min}, mean {self.mean}, max {self.max})"
            )
        return self


class Characteristic(Value):
    """A design characteristic with its balloon number, requirement and designator."""

    balloon: Identifier
    name: Text
    nominal: Number | None = None
    unit: Unit | None = None
    lower_tolerance: Number | None = None
    upper_tolerance: Number | None = None
    designator: Designator = "none"
    location: Text | None = None
    requirement: Text | None = None

    @model_validator(mode="after")
    def _requirement(self) -> Self:
        if self.nominal is not None:
            if self.unit is None or self.lower_tolerance is None or self.upper_tolerance is None:
                raise ValueError(
                    f"a unit and both tolerances for characteristic {self.balloon} "
                    "since it has a nominal"
                )
            if self.lower_tolerance > self.upper_tolerance:
                raise ValueError(
                    f"lower_tolerance <= upper_tolerance for characteristic {self.balloon}"
                )
        elif self.requirement is None:
            raise ValueError(
                f"a nominal with tolerances or a 'requirement' text for characteristic "
                f"{self.balloon}"
            )
        return self

    def conforms(self, measured: float) -> bool:
        """Whether ``measured`` lies within nominal plus its tolerances."""
        if self.nominal is None or self.lower_tolerance is None or self.upper_tolerance is None:
            raise ValueError(f"characteristic {self.balloon} has no numeric requirement")
        return (
            self.nominal + self.lower_tolerance <= measured <= self.nominal + self.upper_tolerance
        )
