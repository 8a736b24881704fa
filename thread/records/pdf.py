"""The PDF copy of a record, drawn with reportlab in embedded Bitstream Vera (:mod:`.fonts`).

Every page carries the document id, "page x of y", the ledger's origin and
log head, so a loose page still says where it came from; every section ends
with the events (subject, version, log position, hash) it was derived from,
and an evidence index lists their full SHA-256 hashes.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from thread.records.documents import Record, document_of
from thread.records.evidence import EventRef, RecordField, SignatureRecord, moment
from thread.records.fonts import BOLD, ITALIC, REGULAR, printable, register
from thread.records.layout import Block, Boxes, Caption, Cell, Document, Grid, Note, Section, cited

INK = colors.HexColor("#111111")
MUTED = colors.HexColor("#555555")
RULE = colors.HexColor("#8a8a8a")
BAND = colors.HexColor("#e6ebf1")
HEAD = colors.HexColor("#d5dbe3")
TONES = {"pass": colors.HexColor("#1b5e20"), "fail": colors.HexColor("#b71c1c"),
         "warn": colors.HexColor("#8a4b00"), "missing": MUTED, "plain": INK, "mono": INK}

_BODY = ParagraphStyle("body", fontName=REGULAR, fontSize=8, leading=10, textColor=INK)
_CELL = ParagraphStyle("cell", parent=_BODY, fontSize=7, leading=8.6)
_HEADER_CELL = ParagraphStyle("header-cell", parent=_CELL, fontName=BOLD,
                              fontSize=6.6, leading=8)
_LABEL = ParagraphStyle("label", parent=_CELL, fontSize=5.8, leading=7, textColor=MUTED)
_VALUE = ParagraphStyle("value", parent=_CELL, fontSize=8, leading=9.6)
_FROM = ParagraphStyle("from", parent=_CELL, fontSize=5.4, leading=6.4, textColor=MUTED)
_MONO = ParagraphStyle("mono", parent=_CELL, fontName=REGULAR, fontSize=6.2, leading=7.4)
_HEADING = ParagraphStyle("heading", parent=_BODY, fontName=BOLD, fontSize=10.5,
                          leading=13, backColor=BAND, borderPadding=(3, 4, 3, 4),
                          spaceBefore=10, spaceAfter=6, keepWithNext=True)
_CAPTION = ParagraphStyle("caption", parent=_BODY, fontName=BOLD, fontSize=8,
                          leading=10, spaceBefore=5, spaceAfter=2, keepWithNext=True)
_BASIS = ParagraphStyle("basis", parent=_BODY, fontSize=7, leading=8.6, textColor=MUTED,
                        spaceAfter=3)
_EVIDENCE = ParagraphStyle("evidence", parent=_BODY, fontName=REGULAR, fontSize=5.8,
                           leading=7, textColor=MUTED, spaceBefore=2, spaceAfter=4)
_TITLE = ParagraphStyle("title", parent=_BODY, fontName=BOLD, fontSize=15,
                        leading=18)
_SUBTITLE = ParagraphStyle("subtitle", parent=_BODY, fontSize=10, leading=13, spaceAfter=4)
_META = ParagraphStyle("meta", parent=_CELL, fontSize=6.8, leading=8.4)

_MARGIN = 12 * mm
#: With this much of the page left, a block too long for it starts here and breaks.
_SPLIT_FROM = 40 * mm
_TOP = 21 * mm
_BOTTOM = 17 * mm


def render_pdf(record: Record | Document) -> bytes:
    """The record as a PDF: headed, numbered pages with evidence and a signature block."""
    document = document_of(record)
    register()
    _, pages = _build(document, None)  # a first pass counts the pages for "page x of y"
    data, _ = _build(document, pages)
    return data


def _build(document: Document, total: int | None) -> tuple[bytes, int]:
    buffer = BytesIO()
    size = landscape(A4) if document.landscape else A4
    info = document.info
    template = SimpleDocTemplate(
        buffer, pagesize=size, leftMargin=_MARGIN, rightMargin=_MARGIN, topMargin=_TOP,
        bottomMargin=_BOTTOM, title=f"{info.document_id} {info.title}",
        author="digital-thread ledger", subject=document.subtitle,
        creator="digital-thread ledger", invariant=True, lang="en", initialFontName=REGULAR,
        initialFontSize=8)
    width = size[0] - 2 * _MARGIN
    pages = [0]

    def decorate(canvas: Canvas, doc: Any) -> None:
        pages[0] = doc.page
        _decorate(canvas, document, doc.page, total, size)

    story = _story(document, width)
    template.build(story, onFirstPage=decorate, onLaterPages=decorate)
    return buffer.getvalue(), pages[0]


def _decorate(canvas: Canvas, document: Document, page: int, total: int | None,
              size: tuple[float, float]) -> None:
    """Header and footer of every page."""
    info = document.info
    width, height = size
    left, right = _MARGIN, width - _MARGIN
    canvas.saveState()
    top = height - 10 * mm
    canvas.setFillColor(INK)
    canvas.setFont(BOLD, 9)
    canvas.drawString(left, top, printable(info.title.upper()))
    canvas.setFont(BOLD, 9)
    canvas.drawCentredString(width / 2, top, printable(info.document_id))
    canvas.setFont(REGULAR, 8.5)
    canvas.drawRightString(right, top, f"Page {page} of {total if total else '?'}")
    canvas.setFont(REGULAR, 7)
    canvas.setFillColor(MUTED)
    standard = printable(info.standard)
    room = right - left - canvas.stringWidth(standard, REGULAR, 7) - 6 * mm
    canvas.drawString(left, top - 10, _fit(canvas, document.subtitle, REGULAR, 7, room))
    canvas.drawRightString(right, top - 10, standard)
    canvas.setStrokeColor(INK)
    canvas.setLineWidth(0.8)
    canvas.line(left, top - 14, right, top - 14)
    # Footer: where the copy comes from, on every page.
    canvas.setLineWidth(0.4)
    canvas.line(left, 13 * mm, right, 13 * mm)
    canvas.setFont(REGULAR, 6.2)
    canvas.drawString(left, 10 * mm, _fit(
        canvas, f"Ledger {info.ledger_origin} | log head {info.log_size} leaves, root "
                f"{info.log_root[:16]}... | generated {moment(info.generated_at)}",
        REGULAR, 6.2, right - left))
    canvas.drawString(left, 7 * mm, _fit(
        canvas, f"{info.as_of_note} Copy of ledger facts (21 CFR 11.10(b)); each section cites "
                "its events (log position, SHA-256).",
        REGULAR, 6.2, right - left))
    canvas.restoreState()


def _story(document: Document, width: float) -> list[Flowable]:
    info = document.info
    story: list[Flowable] = [
        Paragraph(_safe(info.title), _TITLE),
        Paragraph(_safe(document.subtitle), _SUBTITLE),
        _meta_table(document, width),
        Spacer(1, 4),
    ]
    if document.summary:
        story.append(_boxes(Boxes(document.summary, 4), width))
    for section in document.sections:
        story += _section(section, width)
    story += _signatures(document.signatures, width)
    for section in document.appendix:
        story += _section(section, width)
    story += _evidence_index(document.evidence, width)
    return story


def _meta_table(document: Document, width: float) -> Table:
    info = document.info
    rows = [
        ("Document", info.document_id, "Standard", info.standard),
        ("Generated", moment(info.generated_at), "Scope", info.as_of_note),
        ("Ledger origin", info.ledger_origin, "Log head",
         f"{info.log_size} leaves, root {info.log_root}"),
        ("Evidence digest", info.evidence_digest, "Events cited", str(len(document.evidence))),
    ]
    data = [[_p(k, _LABEL), _p(v, _MONO if k in ("Evidence digest",) else _META),
             _p(k2, _LABEL), _p(v2, _MONO if k2 == "Log head" else _META)]
            for k, v, k2, v2 in rows]
    table = Table(data, colWidths=[width * 0.1, width * 0.4, width * 0.1, width * 0.4])
    table.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), REGULAR),  # a plain-text cell is in Vera too
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("BOX", (0, 0), (-1, -1), 0.6, RULE),
        ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
    ]))
    return table


def _section(section: Section, width: float) -> list[Flowable]:
    flow: list[Flowable] = [PageBreak()] if section.new_page else [CondPageBreak(40 * mm)]
    head: list[Flowable] = [Paragraph(_safe(section.title), _HEADING)]
    if section.basis:
        head.append(Paragraph(_safe(section.basis), _BASIS))
    # Captions travel with the table they name.
    groups: list[list[Flowable]] = []
    pending: list[Flowable] = []
    for block in section.blocks:
        pending.append(_block(block, width))
        if not isinstance(block, Caption):
            groups.append(pending)
            pending = []
    if pending:
        groups.append(pending)
    if section.cites:
        # The evidence line stays on the page of the section's last block.
        groups[-1].append(Paragraph("Evidence: " + _safe(cited(section.evidence)), _EVIDENCE))
    groups[0][:0] = head  # a heading never ends a page alone
    return flow + [_Together(group) for group in groups]


class _Together(KeepTogether):  # type: ignore[misc]  # reportlab is untyped
    """A heading or caption with the block it names.

    The group stays whole on this page when it fits; a longer group starts
    here when a fair share of the page is left (:data:`_SPLIT_FROM`), its table
    breaking between rows with the header repeated, so a long table never
    leaves half a page empty before it and a heading keeps its first rows;
    with less left the group moves to the next page.
    """

    def split(self, available_width: float, available_height: float) -> list[Flowable]:
        if getattr(self, "_wrapInfo", None) != (available_width, available_height):
            self.wrap(available_width, available_height)
        content: list[Flowable] = list(self._content)
        if available_height >= self._H or available_height >= _SPLIT_FROM:
            return content
        return [self.FrameBreak(), *content]


def _block(block: Block, width: float) -> Flowable:
    match block:
        case Boxes():
            return _boxes(block, width)
        case Grid():
            return _grid(block, width)
        case Caption():
            return Paragraph(_safe(block.text), _CAPTION)
        case Note():
            style = ParagraphStyle("note", parent=_BODY, fontSize=7.5, leading=9.4,
                                   textColor=TONES[block.tone], spaceBefore=2, spaceAfter=3)
            return Paragraph(_safe(block.text), style)


def _box(fld: RecordField) -> list[Flowable]:
    label = f"{fld.number}. {fld.name}" if fld.number else fld.name
    if fld.status == "not recorded":
        value = Paragraph("<i>Not recorded</i>", ParagraphStyle(
            "missing", parent=_VALUE, textColor=MUTED))
        origin = fld.derived_from
    else:
        note = f' <font size="7">({_safe(fld.note)})</font>' if fld.note else ""
        value = Paragraph(_safe(fld.text) + note, _VALUE)
        origin = ("not applicable" if fld.status == "not applicable"
                  else f"{fld.status} from {fld.derived_from}")
    return [Paragraph(_safe(label.upper()), _LABEL), value, Paragraph(_safe(origin), _FROM)]


def _boxes(boxes: Boxes, width: float) -> Table:
    columns = boxes.columns
    data: list[list[Any]] = []
    spans: list[tuple[str, tuple[int, int], tuple[int, int]]] = []
    fields = list(boxes.fields)
    for row, start in enumerate(range(0, len(fields), columns)):
        chunk = fields[start:start + columns]
        cells: list[Any] = [_box(fld) for fld in chunk]
        if len(chunk) < columns:  # the last box takes the rest of the row
            spans.append(("SPAN", (len(chunk) - 1, row), (columns - 1, row)))
            cells += [""] * (columns - len(chunk))
        data.append(cells)
    table = Table(data, colWidths=[width / columns] * columns, splitInRow=1)
    table.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), REGULAR),  # a plain-text cell is in Vera too
        ("GRID", (0, 0), (-1, -1), 0.6, RULE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        *spans,
    ]))
    return table


def _cell(value: Cell) -> Paragraph:
    if value.tone == "mono":
        return Paragraph(_safe(value.text), _MONO)
    style = ParagraphStyle(f"cell-{value.tone}", parent=_CELL, textColor=TONES[value.tone],
                           fontName={"pass": BOLD, "fail": BOLD,
                                     "missing": ITALIC}.get(value.tone, REGULAR))
    return Paragraph(_safe(value.text), style)


def _grid(grid: Grid, width: float) -> Flowable:
    if not grid.rows:
        return Paragraph(f"<i>{_safe(grid.empty)}</i>", ParagraphStyle(
            "empty", parent=_BODY, fontSize=7.5, textColor=MUTED, spaceAfter=3))
    total = sum(grid.widths)
    data = [[Paragraph(_safe(h), _HEADER_CELL) for h in grid.headers]]
    data += [[_cell(value) for value in row] for row in grid.rows]
    table = Table(data, colWidths=[width * w / total for w in grid.widths], repeatRows=1)
    table.setStyle(_GRID_STYLE)
    return table


_GRID_STYLE = TableStyle([
    ("FONTNAME", (0, 0), (-1, -1), REGULAR),
    ("GRID", (0, 0), (-1, -1), 0.5, RULE),
    ("BACKGROUND", (0, 0), (-1, 0), HEAD),
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ("LEFTPADDING", (0, 0), (-1, -1), 2.5), ("RIGHTPADDING", (0, 0), (-1, -1), 2.5),
    ("TOPPADDING", (0, 0), (-1, -1), 1.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
])


def _signatures(signatures: tuple[SignatureRecord, ...], width: float) -> list[Flowable]:
    flow: list[Flowable] = [CondPageBreak(50 * mm), Paragraph(
        "Electronic signatures (21 CFR 11.50, 11.70)", _HEADING), Paragraph(
        "Each signature is an Ed25519 signature over the SHA-256 hash of the signed event, "
        "bound to the signer's id, the meaning and the time; it cannot be moved to another "
        "record.", _BASIS)]
    if not signatures:
        flow.append(Paragraph("<i>No electronic signature on the facts of this record.</i>",
                              _BASIS))
        return flow
    headers = ("Printed name", "Signer id", "Meaning", "Date and time (UTC)", "Signed record",
               "Verification")
    data: list[list[Any]] = [[Paragraph(h, _HEADER_CELL) for h in headers]]
    bold = ParagraphStyle("signer", parent=_CELL, fontName=BOLD, fontSize=8)
    for s in signatures:
        tone = {"verified": "pass", "key not pinned": "warn"}.get(s.status, "fail")
        data.append([
            Paragraph(_safe(s.printed_name), bold), Paragraph(_safe(s.signer), _CELL),
            Paragraph(_safe(s.meaning.upper()), _HEADER_CELL),
            Paragraph(_safe(moment(s.signed_at)), _CELL),
            Paragraph(_safe(f"{s.signed.label} (log #{s.signed.position}), hash "
                            f"{s.signed.hash[:16]}...: {s.signed_summary}"), _CELL),
            Paragraph(f'<font color="{TONES[tone].hexval()}"><b>{s.label}</b></font>: '
                      + _safe(s.details), _CELL),
        ])
    table = Table(data, colWidths=[width * w for w in (0.13, 0.09, 0.1, 0.11, 0.3, 0.27)],
                  repeatRows=1)
    table.setStyle(_GRID_STYLE)
    flow.append(table)
    return flow


def _evidence_index(evidence: tuple[EventRef, ...], width: float) -> list[Flowable]:
    basis = ("Every event this record was derived from, as held in the ledger's verified "
             "chains: subject, version in its chain, position in the verifiable log, topic, both "
             "times and the full SHA-256 event hash.")
    flow: list[Flowable] = [CondPageBreak(50 * mm), Paragraph("Evidence index", _HEADING),
                            Paragraph(basis, _BASIS)]
    headers = ("Subject", "Ver.", "Log #", "Topic", "Occurred / recorded (UTC)", "SHA-256")
    data: list[list[Any]] = [[Paragraph(h, _HEADER_CELL) for h in headers]]
    for ref in evidence:
        data.append([
            Paragraph(_safe(f"{ref.kind} {ref.key}"), _CELL), Paragraph(str(ref.version), _CELL),
            Paragraph("" if ref.position is None else str(ref.position), _CELL),
            Paragraph(_safe(ref.topic), _CELL),
            Paragraph(f"{moment(ref.occurred_at)}<br/>{moment(ref.recorded_at)}", _CELL),
            Paragraph(f"{ref.hash[:32]}<br/>{ref.hash[32:]}", _MONO),
        ])
    table = Table(data, colWidths=[width * w for w in (0.15, 0.04, 0.06, 0.28, 0.2, 0.27)],
                  repeatRows=1)
    table.setStyle(_GRID_STYLE)
    flow.append(table)
    return flow


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(_safe(text), style)


def _safe(text: str) -> str:
    """Paragraph markup for plain text (long tokens wrap: styles split long words)."""
    return escape(printable(text))


def _fit(canvas: Canvas, text: str, font: str, size: float, width: float) -> str:
    """``text`` cut to fit ``width`` points."""
    text = printable(text)
    if canvas.stringWidth(text, font, size) <= width:
        return text
    while text and canvas.stringWidth(text + "...", font, size) > width:
        text = text[:-1]
    return text + "..."

