"""The times a ledger can hold, for every check that bounds a moment.

None before 1970 (facts refuse them), none past the last nanosecond a signed
64-bit count from 1970 reaches (how the read models store times). Standard
library only: the command line checks its options against these bounds
without loading the read side.
"""

from __future__ import annotations

from datetime import UTC, datetime

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2262, 4, 11, 23, 47, 16, tzinfo=UTC)
