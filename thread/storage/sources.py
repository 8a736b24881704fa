"""Whether a stored source record names the event it became: one check for writer and auditor.

A source record (``ledger_sources``) is what makes a re-sent record a no-op, so a
row that is trusted alone lets an insider drop a real fact before it arrives (a
forged row), record one twice (a deleted row) or have re-sends report another
hash (an altered row). The row is only ever believed together with the event it
names: that event must exist, carry the same source and record id in its
canonical bytes, and hash to the hash the row gives. The ledger refuses a re-send
matched by a row that fails this, and ``thread verify`` reports the row.
"""

from __future__ import annotations

import hashlib

from thread.domain.envelope import EnvelopeError, open_envelope
from thread.domain.topics import subject_label
from thread.storage.mapper import FactMapper
from thread.storage.recorder import SOURCES_TABLE, SourceLink, SourceRecord


def row_label(record: SourceRecord) -> str:
    """How a report names a source record's row."""
    return f"the {SOURCES_TABLE} row of source {record.source!r}, record {record.record_id!r}"


def source_key(source: str, record_id: str | None) -> str:
    """How a report names a source record an event carries."""
    return f"source {source!r}, record {record_id!r}"


def link_problem(link: SourceLink, mapper: FactMapper) -> str:
    """What is wrong with a source record's row, or "" when it names the event it became."""
    record, row = link
    version = f"version {record.originator_version}"
    named = f"aggregate {record.originator_id} {version}"
    if row is None:
        return f"names {named}, which is not in the ledger: the row was forged or altered"
    try:
        canonical = mapper.plaintext(row)
        envelope = open_envelope(canonical)
    except (ValueError, EnvelopeError) as error:
        return f"names {named}, whose stored event does not decode ({error})"
    if envelope[:2] != (record.originator_id.bytes, record.originator_version):
        return f"names {named}, whose stored row holds the bytes of another event"
    subject = subject_label(envelope.topic, envelope.payload) or f"aggregate {record.originator_id}"
    named = f"{subject} {version}"
    carries = None if envelope.source_record_id is None else mapper.source_token(
        envelope.source, envelope.source_record_id)
    if (envelope.source, carries) != (record.source, record.record_id):
        carried = ("no source record" if envelope.source_record_id is None
                   else source_key(envelope.source, envelope.source_record_id))
        return (f"names {named}, which carries {carried}, not this one: the row was forged "
                f"or altered")
    digest = hashlib.sha256(canonical).digest()
    if digest != record.event_hash:
        return (f"gives {record.event_hash.hex()[:16]} as the hash of {named}, whose hash is "
                f"{digest.hex()[:16]}: the row was altered")
    return ""
