"""Reading a QIF file safely, keeping each element's line so that errors can point at it.

The parser is the standard library's expat driven by hand rather than
``xml.etree.ElementTree.parse``, for two reasons: ElementTree forgets where
an element was, and a quality engineer fixing a file needs the line; and
QIF files never use a DTD, so any DOCTYPE or entity declaration is refused
outright, which shuts out entity-expansion and external-entity attacks
without a third-party parser.

A results file grows with the parts it measured, not with its plan: reading
it keeps everything but the measurements (each measured characteristic, and
measured features, which nothing reads) as a tree, and hands out the
measurements of one ``MeasurementResults`` at a time from a second pass over
the file (:meth:`Document.measured`), so a file of any number of parts is
read in the memory of its plan and one part's measurements.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Iterator
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


def _left_out(path: list[str], tag: str) -> bool:
    """Whether an element at ``path`` + ``tag`` stays out of the tree: a measurement, read
    by :meth:`Document.measured`, or measured features, which nothing reads."""
    where = tuple(path)
    return where == _MEASUREMENTS or (*where, tag) == _FEATURES


class _Ids:
    """The ids of a file, remembered in two megabytes however many there are.

    A bitmap of three bits per id (from its hash) lets through every id seen
    before, and now and then one that was not; those are kept and checked exactly
    by reading the file again, so the file's first reused id is found for sure.
    """

    _MASK = (1 << 24) - 1

    def __init__(self) -> None:
        self._bits = bytearray((self._MASK + 1) // 8)
        #: Ids that may have been seen before (every one that was is here).
        self.maybe_reused: set[str] = set()

    def note(self, ident: str) -> None:
        """Remember ``ident``, keeping it aside if it may have been seen before."""
        code = hash(ident)
        spots = (code & self._MASK, (code >> 24) & self._MASK, (code >> 40) & self._MASK)
        bits = self._bits
        if all(bits[spot >> 3] & (1 << (spot & 7)) for spot in spots):
            self.maybe_reused.add(ident)
        for spot in spots:
            bits[spot >> 3] |= 1 << (spot & 7)


#: Where the measurements of a results set are: QIFDocument/Results/MeasurementResultsSet/
#: MeasurementResults, and under it MeasuredCharacteristics/CharacteristicMeasurements/*.
_RESULTS = tuple(_PREFIX + tag for tag in ("QIFDocument", "Results", "MeasurementResultsSet",
                                           "MeasurementResults"))
_MEASUREMENTS = (*_RESULTS, _PREFIX + "MeasuredCharacteristics",
                 _PREFIX + "CharacteristicMeasurements")
_FEATURES = (*_RESULTS, _PREFIX + "MeasuredFeatures")
#: Bytes handed to the parser at a time.
_CHUNK = 1 << 20

Handler = Callable[..., None]


class Document:
    """A parsed QIF document: its root, each element's line, and every element by its QIF id.

    The tree holds everything but the measurements; :meth:`measured` reads those.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = path.name
        self._lines: dict[int, int] = {}
        digest = hashlib.sha256()
        self._reused: tuple[str, str, str] | None = None  # an id used twice: id, where, first
        self.root = self._parse(digest)
        self.digest = "sha256:" + digest.hexdigest()
        if self.root.tag != _PREFIX + "QIFDocument":
            found = self.root.tag.replace("{", "").replace("}", ":")
            raise MalformedQIF(
                f"{self.name}: the root element is {found}, not a QIF 3 QIFDocument in "
                f"namespace {NAMESPACE}; export the results as QIF 3"
            )
        self.ids = self._index()

    @classmethod
    def read(cls, path: Path) -> Document:
        """Read and parse the file at ``path`` (all but its measurements)."""
        return cls(path)

    def _parse(self, digest: Any) -> Element:
        """The tree of the file without the measurements; every id is checked for reuse."""
        builder = TreeBuilder()
        path: list[str] = []
        skipped = 0  # depth inside a subtree left out of the tree, 0 outside one
        ids = _Ids()
        names: dict[str, str] = {}  # one string per tag, not one per element

        def start(name: str, attributes: dict[str, str]) -> None:
            nonlocal skipped
            tag = names.get(name) or names.setdefault(name, _clark(name))
            ident = attributes.get("id")
            if ident is not None:
                ids.note(ident)
            if skipped or _left_out(path, tag):
                skipped += 1
            else:
                element = builder.start(tag, {_clark(k): v for k, v in attributes.items()})
                self._lines[id(element)] = parser.CurrentLineNumber
            path.append(tag)

        def end(name: str) -> None:
            nonlocal skipped
            tag = path.pop()
            if skipped:
                skipped -= 1
            else:
                builder.end(tag)

        def data(text: str) -> None:
            if not skipped:
                # Blanks between elements in one shared string: text is read with blanks folded.
                builder.data(" " if text.isspace() else text)

        parser = self._parser(start, end, data)
        for chunk in self._chunks():
            digest.update(chunk)
            self._parse_chunk(parser, chunk, False)
        self._parse_chunk(parser, b"", True)
        if ids.maybe_reused:
            self._reused = self._first_reuse(ids.maybe_reused)
        return builder.close()

    def _first_reuse(self, maybe: set[str]) -> tuple[str, str, str] | None:
        """The first element in file order whose id an earlier one has, with both named;
        ``maybe`` holds every id that may be reused (see :class:`_Ids`)."""
        first: dict[str, str] = {}
        found: list[tuple[str, str, str]] = []

        def start(name: str, attributes: dict[str, str]) -> None:
            ident = attributes.get("id")
            if found or ident not in maybe:
                return
            where = f"{local(_clark(name))} id {ident} (line {parser.CurrentLineNumber})"
            if ident in first:
                found.append((ident, where, first[ident]))
            else:
                first[ident] = where

        parser = self._parser(start, lambda name: None, lambda text: None)
        for chunk in self._chunks():
            self._parse_chunk(parser, chunk, False)
        return found[0] if found else None

    def measured(self, sets: list[Element]) -> Iterator[tuple[Element, list[Element]]]:
        """Each of ``sets`` (the file's MeasurementResults, in file order) with its
        measurement elements, read from the file again, one results set at a time."""
        done: list[tuple[Element, list[Element]]] = []
        path: list[str] = []
        number = -1  # which MeasurementResults of the file
        current: list[Element] = []
        builder: TreeBuilder | None = None
        depth = 0  # inside a measurement being built

        def start(name: str, attributes: dict[str, str]) -> None:
            nonlocal number, current, builder, depth
            tag = _clark(name)
            if builder is None and tuple(path) == _MEASUREMENTS:
                builder = TreeBuilder()
            if builder is not None:
                element = builder.start(tag, {_clark(k): v for k, v in attributes.items()})
                self._lines[id(element)] = parser.CurrentLineNumber
                depth += 1
            elif tuple(path) == _RESULTS[:-1] and tag == _RESULTS[-1]:
                number += 1
                current = []
            path.append(tag)

        def end(name: str) -> None:
            nonlocal builder, depth
            tag = path.pop()
            if builder is not None:
                builder.end(tag)
                depth -= 1
                if not depth:
                    current.append(builder.close())
                    builder = None
            elif tuple(path) == _RESULTS[:-1] and tag == _RESULTS[-1] and number < len(sets):
                done.append((sets[number], current))

        def data(text: str) -> None:
            if builder is not None:
                builder.data(text)

        parser = self._parser(start, end, data)
        for chunk in self._chunks():
            self._parse_chunk(parser, chunk, False)
            yield from self._handed(done)
        self._parse_chunk(parser, b"", True)
        yield from self._handed(done)

    def _handed(self, done: list[tuple[Element, list[Element]]]
                ) -> Iterator[tuple[Element, list[Element]]]:
        """Hand out the results sets read so far, forgetting their measurements' lines after."""
        while done:
            measured, measurements = done.pop(0)
            yield measured, measurements
            for measurement in measurements:
                for element in measurement.iter():
                    self._lines.pop(id(element), None)

    def _parser(self, start: Handler, end: Handler, data: Handler) -> Any:
        parser = expat.ParserCreate(namespace_separator="}")
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

        def refuse_doctype(*_: Any) -> None:
            raise MalformedQIF(
                f"{self.name}: line {parser.CurrentLineNumber} declares a DOCTYPE; QIF files "
                "have none, and DTDs and entities are refused so a file cannot expand or "
                "fetch content"
            )

        parser.StartElementHandler = start
        parser.EndElementHandler = end
        parser.CharacterDataHandler = data
        parser.StartDoctypeDeclHandler = refuse_doctype
        parser.EntityDeclHandler = refuse_doctype
        return parser

    def _chunks(self) -> Iterator[bytes]:
        try:
            with self.path.open("rb") as file:
                while chunk := file.read(_CHUNK):
                    yield chunk
        except OSError as error:
            raise MalformedQIF(f"{self.path}: cannot be read: {error.strerror or error}"
                               ) from None

    def _parse_chunk(self, parser: Any, chunk: bytes, last: bool) -> None:
        try:
            parser.Parse(chunk, last)
        except expat.ExpatError as error:
            raise MalformedQIF(
                f"{self.name}: not well-formed XML at line {error.lineno}, column "
                f"{error.offset + 1}: {expat.ErrorString(error.code)}"
            ) from None

    def _index(self) -> dict[str, Element]:
        if self._reused is not None:
            reused, where, first = self._reused
            raise MalformedQIF(f"{self.name}: {where} reuses QIF id {reused} of {first}; ids "
                               "must be unique in a QIF document")
        ids: dict[str, Element] = {}
        for element in self.root.iter():
            ident = element.get("id")
            if ident is not None:
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
