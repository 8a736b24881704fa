"""Reliability and quality statistics over the ledger's read results.

The maths is scipy's and statsmodels', the drawing matplotlib's: the
``analytics`` extra (``pip install 'digital-thread-ledger[analytics]'``). The
core ledger works without it; :func:`require` says which extra a command needs.
"""

from __future__ import annotations

from importlib.util import find_spec

from thread.errors import LedgerError

#: What the extra installs, by module.
_EXTRA = ("numpy", "scipy", "statsmodels", "matplotlib", "sklearn")


class MissingExtraError(LedgerError):
    """A statistics or plotting library the question needs is not installed."""


def require(*modules: str) -> None:
    """Raise :class:`MissingExtraError` naming the extra when one of ``modules`` is missing."""
    for module in modules or _EXTRA:
        if find_spec(module) is None:
            raise MissingExtraError(
                f"this needs {module}, which is not installed; install the analytics extra: "
                f"pip install 'digital-thread-ledger[analytics]'")
