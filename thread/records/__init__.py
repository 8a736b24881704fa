"""Quality records drawn from the ledger: device history records and first article reports.

Each record is typed, JSON-serialisable data built only from verified ledger
facts, as of any past moment by either clock; :func:`render_html` and
:func:`render_pdf` make the human-readable copies (Part 11.10(b)).
"""

from thread.records.dhr import DeviceHistoryRecord, device_history_record
from thread.records.evidence import Cutoff, EventRef, RecordField, RecordUnavailable
from thread.records.fair import FirstArticleReport, first_article_report, serials_of
from thread.records.html import render_html
from thread.records.pdf import render_pdf

__all__ = [
    "Cutoff",
    "DeviceHistoryRecord",
    "EventRef",
    "FirstArticleReport",
    "RecordField",
    "RecordUnavailable",
    "device_history_record",
    "first_article_report",
    "render_html",
    "render_pdf",
    "serials_of",
]
