"""Reading a QIF file safely, keeping each element's line so that errors can point at it.

The parser is the standard library's expat driven by hand rather than
``xml.etree.ElementTree.parse``, for two reasons: ElementTree forgets where
an element was, and a quality engineer fixing a file needs the line; and
QIF files never use a DTD, so any DOCTYPE or entity declaration is refused
outright, which shuts out entity-expansion and external-entity attacks
without a third-party parser.
"""

from __future__ import annotations

import hashlib
import math
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn
from xml.etree.ElementTree import Element, TreeBuilder
from xml.parsers import expat

from thread_adapters.qif.errors import MalformedQIF

#: The QIF 3 namespace (ISO 23952); QIF 2 files and other XML are refused.
NAMESPACE = "http://qifstandards.org/xsd/qif3"
#: Prefix map for ElementTree paths such as ``q:Results/q:MeasurementResultsSet``.
Q = {"q": NAMESPACE}
_PREFIX = "{" + NAMESPACE + "}"


def local(tag: str) -> str:
    """An element's tag without the QIF namespace."""
    return tag.removeprefix(_PREFIX)


def words(tag: str) -> str:
    """A QIF tag as words: ``DiameterCharacteristicItem`` -> ``diameter characteristic item``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", local(tag)).lower()


def _clark(name: str) -> str:
    # expat reports "uri}local" with our separator; ElementTree wants "{uri}local".
    return "{" + name if "}" in name else name


class Document:
    """A parsed QIF document: its root, each element's line, and every element by its QIF id."""

    def __init__(self, path: Path, data: bytes) -> None:
        self.path = path
        self.name = path.name
        self.digest = "sha256:" + hashlib.sha256(data).hexdigest()
        self._lines: dict[int, int] = {}
        self.root = self._parse(data)
        if self.root.tag != _PREFIX + "QIFDocument":
            found = self.root.tag.replace("{", "").replace("}", ":")
            raise MalformedQIF(
                f"{self.name}: the root element is {found}, not a QIF 3 QIFDocument in "
                f"namespace {NAMESPACE}; export the results as QIF 3"
            )
        self.ids = self._index()

    @classmethod
    def read(cls, path: Path) -> Document:
        """Read and parse the file at ``path``."""
        try:
            data = path.read_bytes()
        except OSError as error:
            raise MalformedQIF(f"{path}: cannot be read: {error.strerror or error}") from None
        return cls(path, data)

    def _parse(self, data: bytes) -> Element:
        builder = TreeBuilder()
        parser = expat.ParserCreate(namespace_separator="}")
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

        def start(name: str, attributes: dict[str, str]) -> None:
            element = builder.start(_clark(name), {_clark(k): v for k, v in attributes.items()})
            self._lines[id(element)] = parser.CurrentLineNumber

        def end(name: str) -> None:
            builder.end(_clark(name))

        def refuse_doctype(*_: Any) -> None:
            raise MalformedQIF(
                f"{self.name}: line {parser.CurrentLineNumber} declares a DOCTYPE; QIF files "
                "have none, and DTDs and entities are refused so a file cannot expand or "
                "fetch content"
            )

        parser.StartElementHandler = start
        parser.EndElementHandler = end
        parser.CharacterDataHandler = builder.data
        parser.StartDoctypeDeclHandler = refuse_doctype
        parser.EntityDeclHandler = refuse_doctype
        try:
            parser.Parse(data, True)
        except expat.ExpatError as error:
            raise MalformedQIF(
                f"{self.name}: not well-formed XML at line {error.lineno}, column "
                f"{error.offset + 1}: {expat.ErrorString(error.code)}"
            ) from None
        return builder.close()

    def _index(self) -> dict[str, Element]:
        ids: dict[str, Element] = {}
        for element in self.root.iter():
            ident = element.get("id")
            if ident is None:
                continue
            if ident in ids:
                self.fail(element, f"reuses QIF id {ident} of {self.where(ids[ident])}; "
                                   "ids must be unique in a QIF document")
            ids[ident] = element
        return ids

    # Pointing at elements

    def line(self, element: Element) -> int:
        """The line on which ``element`` starts."""
        return self._lines.get(id(element), 0)

    def where(self, element: Element) -> str:
        """How a message names an element: its tag, QIF id and line."""
        ident = element.get("id")
        return (f"{local(element.tag)}" + (f" id {ident}" if ident is not None else "")
                + f" (line {self.line(element)})")

    def fail(self, element: Element, problem: str) -> NoReturn:
        """Raise :class:`MalformedQIF` about ``element``."""
        raise MalformedQIF(f"{self.name}: {self.where(element)} {problem}")

    # Reading values

    @staticmethod
    def find(element: Element, path: str) -> Element | None:
        """The first element at ``path`` (with ``q:`` prefixes) under ``element``."""
        return element.find(path, Q)

    @staticmethod
    def findall(element: Element, path: str) -> list[Element]:
        """Every element at ``path`` under ``element``."""
        return element.findall(path, Q)

    @staticmethod
    def text(element: Element | None, path: str | None = None) -> str | None:
        """The text at ``path`` with runs of blanks folded (xs:token), or None when empty."""
        if element is not None and path is not None:
            element = element.find(path, Q)
        if element is None or element.text is None:
            return None
        folded = " ".join(element.text.split())
        return folded or None

    def number(self, element: Element) -> float:
        """The decimal value of ``element``; anything else is an error naming the element."""
        text = self.text(element)
        try:
            value = float(text or "")
        except ValueError:
            self.fail(element, f"holds {text!r}, which is not a number")
        if not math.isfinite(value):
            self.fail(element, f"holds {text!r}, which is not a finite number")
        return value

    def moment(self, element: Element) -> datetime:
        """The xs:dateTime of ``element``; QIF times are GMT, so a time without a zone is UTC."""
        text = self.text(element) or ""
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            self.fail(element, f"holds {text!r}, which is not a date and time "
                               "(expected xs:dateTime such as 2015-10-23T05:36:11Z)")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def referenced(self, element: Element, path: str, kind: str) -> Element:
        """The element whose QIF id is the text at ``path``; its tag must end with ``kind``."""
        reference = self.find(element, path)
        if reference is None:
            self.fail(element, f"has no {path.replace('q:', '')}")
        ident = self.text(reference)
        target = self.ids.get(ident or "")
        external = reference.get("xId")
        if external is not None:
            # The id is that of an ExternalQIFDocument; xId is the element's id inside it.
            uri = self.text(target, "q:URI") if target is not None else None
            self.fail(reference, f"refers to {words(kind)} {external} in another QIF document "
                                 f"({uri or f'external document {ident}'}); results that point "
                                 "into a separate plan are not read: export the results with "
                                 "their characteristics in the same file")
        if target is None:
            self.fail(reference, f"refers to {words(kind)} {ident}, which this file does not "
                                 "define")
        if not local(target.tag).endswith(kind):
            self.fail(reference, f"refers to {self.where(target)}, which is not a {words(kind)}")
        return target
