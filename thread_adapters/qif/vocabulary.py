"""How QIF's vocabulary maps to the ledger's: verdicts, designators, inspection methods.

- **Verdict**: the file's characteristic status is authoritative (it knows
  bonus tolerance and datum shift): PASS -> pass; FAIL and REWORK -> fail;
  BASIC_OR_TED (a basic dimension, which has no tolerance to fail) -> pass;
  any other status (INDETERMINATE, NOT_ANALYZED, SYSERROR, UNDEFINED, a
  free-text status) -> fail, because a result not shown to conform cannot be
  accepted. Statuses other than PASS and FAIL are also written into the
  inspection's name, so the record still says what the file said.
- **Designator** (AS9102 Form 3, field 7): criticality KEY -> key, CRITICAL
  -> critical, a SAFETY area or a flight-safety level -> flight-safety;
  MAJOR, MINOR and the rest are classifications, not designators -> none.
- **Method**: a measurement device's QIF type and name decide: a CMM -> cmm;
  calipers, micrometers, gauges and pins -> gauge; vision and optical
  devices -> vision; a named device of another kind -> other (its name is
  kept as the gauge); a measurement with no device -> cmm.
"""

from __future__ import annotations

import re
from typing import Literal

from thread.domain.facts.measures import Designator
from thread.domain.facts.quality import Verdict

#: The inspection methods an :class:`~thread.facts.InspectionRecorded` may name.
Method = Literal["cmm", "vision", "manual", "gauge", "test-rig", "other"]

#: Non-conformance designators that mean "none".
NO_NON_CONFORMANCE = frozenset({"NA", "N/A", "NONE", "-", "--", "0"})
#: Device words -> inspection method, tried in this order.
_METHODS: tuple[tuple[Method, tuple[str, ...]], ...] = (
    ("cmm", ("CMM", "COORDINATE")),
    ("vision", ("VISION", "OPTICAL", "CAMERA", "MICROSCOPE", "COMPARATOR", "IMAGING")),
    ("gauge", ("CALIPER", "MICROMETER", "GAGE", "GAUGE", "PIN", "INDICATOR", "HEIGHT",
               "PLUG", "RING", "THREAD")),
    ("manual", ("MANUAL", "VISUAL")),
)


def verdict_of(status: str) -> tuple[Verdict, str | None]:
    """The ledger's verdict for a QIF characteristic status, and a note when it is not plain."""
    code = status.upper()
    if code == "PASS":
        return "pass", None
    if code == "FAIL":
        return "fail", None
    if code == "REWORK":
        return "fail", "QIF status REWORK"
    if code == "BASIC_OR_TED":
        return "pass", "basic dimension, QIF status BASIC_OR_TED"
    return "fail", f"QIF status {status}, not shown to conform"


def designator_of(level: str | None, area: str | None) -> Designator:
    """AS9102's designator for a QIF criticality level (LevelEnum or OtherLevel) and area."""
    level, area = (level or "").upper(), (area or "").upper()
    if "FLIGHT" in level or "SAFETY" in level or (
            area == "SAFETY" and level in ("CRITICAL", "KEY")):
        return "flight-safety"
    if level.startswith("CRITICAL"):
        return "critical"
    if level.startswith("KEY"):
        return "key"
    return "none"


def method_of(tag: str, name: str | None) -> Method:
    """The inspection method a measurement device's QIF type and name point to."""
    tag = tag.upper()
    tokens = re.split(r"[^A-Z0-9]+", (name or "").upper())
    for method, keys in _METHODS:
        if any(key in tag or any(token.startswith(key) for token in tokens) for key in keys):
            return method
    return "other"
