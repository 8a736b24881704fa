"""Which document lays out which record: the one place the record types meet their layouts."""

from __future__ import annotations

from thread.records.dhr_layout import dhr_document
from thread.records.dhr_record import DeviceHistoryRecord
from thread.records.fair_layout import fair_document
from thread.records.fair_record import FirstArticleReport
from thread.records.layout import Document

Record = DeviceHistoryRecord | FirstArticleReport


def document_of(record: Record | Document) -> Document:
    """The record laid out for its HTML and PDF copies (a document is already laid out)."""
    if isinstance(record, Document):
        return record
    if isinstance(record, DeviceHistoryRecord):
        return dhr_document(record)
    return fair_document(record)
