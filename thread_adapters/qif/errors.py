"""Why a QIF file cannot be imported: each message names the file, the element and its line."""

from __future__ import annotations

from thread.errors import LedgerError, UnknownSubject


class QIFError(LedgerError):
    """A QIF results file cannot be imported as it is; nothing of the import was written."""


class MalformedQIF(QIFError):  # noqa: N818 - reads as a domain term, like InvalidFact
    """The file is not well-formed XML, not QIF 3 results, or lacks an element the import needs."""


class UnknownUnit(QIFError):  # noqa: N818
    """The file states its values in a unit the ledger has no code for."""


class UnregisteredPart(QIFError, UnknownSubject):  # noqa: N818
    """The file measured a serial (or lot) the ledger does not know: register the part first."""


class ForeignReport(QIFError):  # noqa: N818
    """Results that do not belong to the part they name (another design, a scrapped part)."""
