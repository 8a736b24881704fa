"""The one exception the quality statistics raise on purpose."""

from __future__ import annotations

from thread.errors import LedgerError


class QualityInputError(LedgerError, ValueError):
    """Bad input to a chart or a capability study: one line naming the field, the value
    and what was expected.

    A :class:`ValueError` for callers that only know the standard library, and a
    :class:`~thread.errors.LedgerError` so that the command line prints it as one line.
    """
