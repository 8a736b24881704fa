"""Business-system imports: PLM, ERP, QMS, CMMS and CRM exports into facts, by a mapping file.

A declarative mapping (TOML or YAML) says which fact each row of a CSV, JSON
or JSON Lines export becomes; rows that do not fit are reported with their
line, column, value and what was expected, and a file with bad rows writes
nothing unless the good rows are asked for::

    from thread_adapters.business import import_file

    report = import_file(ledger, "erp-work-orders.toml", "work-orders.csv")
    print(report.new, report.present)
"""

from thread_adapters.business.conversion import PlannedFact, Problem, facts_of_row
from thread_adapters.business.importer import (
    ImportReport,
    RowError,
    RowsRefused,
    import_export,
    import_file,
    plan,
)
from thread_adapters.business.mapping import (
    Mapping,
    MappingError,
    RecordKind,
    ValueSpec,
    When,
    importable_topics,
    load_mapping,
    parse_mapping,
)
from thread_adapters.business.rows import Export, ExportFileError, Row, parse_export, read_export

__all__ = [
    "Export",
    "ExportFileError",
    "ImportReport",
    "Mapping",
    "MappingError",
    "PlannedFact",
    "Problem",
    "RecordKind",
    "Row",
    "RowError",
    "RowsRefused",
    "ValueSpec",
    "When",
    "facts_of_row",
    "import_export",
    "import_file",
    "importable_topics",
    "load_mapping",
    "parse_export",
    "parse_mapping",
    "plan",
    "read_export",
]
