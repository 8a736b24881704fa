"""What the mapping layer refuses, in the ledger's own hierarchy."""

from __future__ import annotations

from thread.errors import ConfigurationError, LedgerError


class MappingError(LedgerError):
    """Readings could not be turned into facts."""


class ReadingRefused(MappingError):  # noqa: N818 - reads as a domain outcome
    """A reading that cannot be what its tag map says (text on a numeric tag, a bad time)."""


class UnitMismatch(ConfigurationError):  # noqa: N818 - reads as a domain term
    """The source states a different unit for a tag than its tag map declares."""


class MachineNotRegistered(ConfigurationError):  # noqa: N818
    """The tag map's machine is not in the ledger and the map does not register it."""


class RecordsRefused(MappingError):  # noqa: N818
    """Some records were refused by the ledger; everything else was written.

    ``refusals`` holds one message per refused record, naming its subject,
    its source record id and the ledger's reason.
    """

    def __init__(self, refusals: list[str]) -> None:
        self.refusals = refusals
        more = f" (and {len(refusals) - 3} more)" if len(refusals) > 3 else ""
        super().__init__(f"{len(refusals)} record(s) refused, the rest written: "
                         + "; ".join(refusals[:3]) + more)
