"""Quality records drawn from the ledger: device history records and first article reports.

Each record is typed, JSON-serialisable data built only from verified ledger
facts, as of any past moment by either clock; :func:`render_html` and
:func:`render_pdf` make the human-readable copies (Part 11.10(b)).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from thread.records.audit_trail import AuditTrail, audit_trail
    from thread.records.dhr import DeviceHistoryRecord, device_history_record
    from thread.records.evidence import Cutoff, EventRef, RecordField, RecordUnavailable
    from thread.records.fair import FirstArticleReport, first_article_report, serials_of
    from thread.records.html import render_html
    from thread.records.pdf import render_pdf

# The records and their writers (reportlab) load on first use, so that a module that only
# prints units the way records do (thread.records.units) loads nothing else.
_LAZY = {
    "AuditTrail": "thread.records.audit_trail",
    "Cutoff": "thread.records.evidence",
    "DeviceHistoryRecord": "thread.records.dhr",
    "EventRef": "thread.records.evidence",
    "FirstArticleReport": "thread.records.fair",
    "RecordField": "thread.records.evidence",
    "RecordUnavailable": "thread.records.evidence",
    "device_history_record": "thread.records.dhr",
    "first_article_report": "thread.records.fair",
    "render_html": "thread.records.html",
    "render_pdf": "thread.records.pdf",
    "audit_trail": "thread.records.audit_trail",
    "serials_of": "thread.records.fair",
}


def __getattr__(name: str) -> Any:
    try:
        module_name = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'thread.records' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


__all__ = [
    "AuditTrail",
    "Cutoff",
    "DeviceHistoryRecord",
    "EventRef",
    "FirstArticleReport",
    "RecordField",
    "RecordUnavailable",
    "audit_trail",
    "device_history_record",
    "first_article_report",
    "render_html",
    "render_pdf",
    "serials_of",
]
