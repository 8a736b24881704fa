"""Every kind of fact the ledger records (re-exported from the domain catalogue)."""

from thread.domain.facts import *  # noqa: F403
from thread.domain.facts import __all__ as __all__
