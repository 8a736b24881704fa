"""QIF 3 (ISO 23952) measurement results into the ledger.

Each measured characteristic of each serial in a QIF results file becomes an
:class:`~thread.facts.InspectionRecorded` (nominal, tolerances, measured
value, verdict, non-conformance, characteristic designator and drawing
location), and each results set and serial an
:class:`~thread.facts.InspectionReported` (report number, preparer,
organization, supplier code, PO, counts). ``results`` says how the file maps
to the facts; ``thread import qif FILE...`` is the command line.

>>> from thread_adapters.qif import import_results
>>> imported = import_results(ledger, ["SN5802802.QIF"])  # doctest: +SKIP
>>> imported[0].measurements, imported[0].failures, imported[0].new  # doctest: +SKIP
(38, 2, 39)
"""

from thread_adapters.qif.errors import (
    ForeignReport,
    MalformedQIF,
    QIFError,
    UnknownUnit,
    UnregisteredPart,
)
from thread_adapters.qif.importer import ImportedFile, import_results
from thread_adapters.qif.results import (
    SOURCE,
    PartReport,
    Planned,
    ResultsFile,
    read_results,
)

__all__ = [
    "SOURCE",
    "ForeignReport",
    "ImportedFile",
    "MalformedQIF",
    "PartReport",
    "Planned",
    "QIFError",
    "ResultsFile",
    "UnknownUnit",
    "UnregisteredPart",
    "import_results",
    "read_results",
]
