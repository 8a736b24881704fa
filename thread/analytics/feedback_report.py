"""The design-feedback report as PDF, HTML or JSON: what tolerance each machine holds.

:func:`render` writes a :class:`~thread.analytics.feedback.DesignFeedback` in the format
its file suffix names. The PDF and the HTML page are laid out once (:func:`layout`: a
summary, then a section per characteristic of notes, tables and pictures, in the terms
of :mod:`thread.records.layout` plus :class:`Picture`) and each writer renders the same
blocks, so both copies say the same thing. The PDF is set in the embedded Vera faces of
the records (:mod:`thread.records.fonts`) on A4; the HTML page is self-contained (inline
CSS, pictures as base64 PNG), so it can be mailed or archived as one file. The JSON is the
report model itself.

Pictures need matplotlib (the ``analytics`` extra); JSON does not.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from io import BytesIO
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape as xml_escape

from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    Image,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from thread.analytics.feedback import (
    HELD_AT,
    CharacteristicFeedback,
    DesignFeedback,
    GroupCapability,
    Held,
)
from thread.errors import LedgerError
from thread.quality import Capability
from thread.records.fonts import BOLD, ITALIC, REGULAR, printable, register
from thread.records.layout import Caption, Cell, Grid, Note, Tone
from thread.records.pdf import BAND, HEAD, INK, MUTED, RULE, TONES

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: What :func:`render` writes, by file suffix.
FORMATS = (".pdf", ".html", ".json")


@dataclass(frozen=True)
class Picture:
    """A figure as PNG, with the size it was drawn at (inches) and a text alternative."""

    png: bytes
    width: float
    height: float
    alt: str


Block = Grid | Note | Caption | Picture


@dataclass(frozen=True)
class Section:
    """A titled part of the report."""

    title: str
    blocks: tuple[Block, ...]
    new_page: bool = False


@dataclass(frozen=True)
class Layout:
    """The whole report, ready to render."""

    title: str
    subtitle: str
    meta: tuple[tuple[str, str], ...]
    sections: tuple[Section, ...]


def render(report: DesignFeedback, suffix: str) -> bytes:
    """The report as ``suffix`` says: ".pdf", ".html" or ".json"."""
    kind = suffix.lower()
    if kind == ".json":
        return report.model_dump_json(indent=2).encode()
    if kind == ".html":
        return render_html(layout(report)).encode("utf-8")
    if kind == ".pdf":
        return render_pdf(layout(report))
    what = repr(suffix) if suffix else "a file without a suffix"
    raise LedgerError(f"cannot write a capability report as {what}; name the file "
                      f"{', '.join(FORMATS[:-1])} or {FORMATS[-1]}")


# -- the layout, once for both writers ------------------------------------------------------

_BASIS = (
    "Cpk and Cp use sigma within (short term: from the moving ranges of the values in the "
    "order they were measured); Ppk and Pp the overall standard deviation. Intervals are "
    "two-sided at the stated confidence. Held ± is the tightest tolerance, symmetric about "
    "the released tolerance's midpoint, at which the parts reach Cpk {held} as the machine "
    "runs (|mean - midpoint| + 4 sigma within); centred ± is the same for a machine "
    "re-centred on the midpoint (4 sigma within). A machine holds the released tolerance "
    "when its held ± is within the released ±. Cpk, Ppk and the expected out-of-tolerance "
    "shares assume normal values: where the Anderson-Darling test rejects normality, the "
    "note says so and gives the distribution-free percentile Ppk.")
_HEADERS = ("Group", "N", "Mean", "Sigma within", "Cpk (CI)", "Ppk", "Out of tol.", "Held ±",
            "Centred ±")
_WIDTHS = (1.6, 0.7, 1.1, 1.0, 1.6, 0.8, 0.9, 1.0, 1.0)


def layout(report: DesignFeedback) -> Layout:
    """The report as sections of notes, tables and pictures (pictures need matplotlib)."""
    from thread.analytics.capability_plots import (
        capability_by_machine_figure,
        capability_by_period_figure,
        capability_figure,
        capability_summary_figure,
    )

    revision = f" revision {report.revision}" if report.revision else ""
    window = ("all measurements" if report.since is None and report.until is None else
              f"measured {_moment(report.since) if report.since else 'from the start'} to "
              f"{_moment(report.until) if report.until else 'now'}")
    meta = (("Part number", report.part_number + revision),
            ("Measurements", window),
            ("Ledger as of", _moment(report.as_of)),
            ("Periods", f"by {report.period}"),
            ("Characteristics", str(len(report.characteristics))),
            ("Held at", f"Cpk {HELD_AT:.2f}"))
    summary: list[Block] = [Note(_BASIS.format(held=f"{HELD_AT:.2f}")),
                            _summary(report.characteristics)]
    if any(_has_capability(c) for c in report.characteristics):
        summary.append(_picture(capability_summary_figure(report),
                                f"Cpk of each characteristic of {report.part_number}"))
    sections = [Section("Summary", tuple(summary))]
    for c in report.characteristics:
        blocks: list[Block] = [Note(_counts(c)), *_normality(c),
                               Caption("Overall and by machine"),
                               _grid([("all parts", c.n, c.overall, c.held,
                                       c.out_of_tolerance)] + [_row(g) for g in c.by_machine],
                                     "No machine recorded.")]
        title = f"{report.part_number} characteristic {_name(c)}"
        figure = capability_figure(c, part_number=report.part_number)
        blocks.append(_picture(figure, f"Histogram of {title} against its tolerance"))
        if _has_capability(c):
            figure = capability_by_machine_figure(c, part_number=report.part_number)
            blocks.append(_picture(figure, f"Cpk and tolerance held by machine, {title}"))
        blocks += [Caption(f"By {report.period}"),
                   _grid([_row(g) for g in c.by_period], "No period recorded.")]
        if sum(g.capability is not None for g in c.by_period) > 1:
            figure = capability_by_period_figure(c, part_number=report.part_number,
                                                 period=report.period)
            blocks.append(_picture(figure, f"Cpk {report.period} by {report.period}, {title}"))
        sections.append(Section(f"Characteristic {_name(c)}", tuple(blocks), new_page=True))
    return Layout(
        title=f"Design feedback: capability of {report.part_number}{revision}",
        subtitle="What tolerance each machine holds, characteristic by characteristic, "
                 "against the released tolerance",
        meta=meta, sections=tuple(sections))


def _picture(figure: Figure, alt: str) -> Picture:
    from thread.analytics.figures import png

    width, height = figure.get_size_inches()
    return Picture(png(figure), float(width), float(height), alt)


def _summary(characteristics: Sequence[CharacteristicFeedback]) -> Grid:
    rows = []
    for c in characteristics:
        found = c.overall
        half = c.half_width
        rows.append((
            Cell(c.characteristic), Cell(c.name or "-"),
            Cell(c.designator if c.designator and c.designator != "none" else "-"),
            Cell(c.limits_text), Cell(str(c.n)), _outside(c.out_of_tolerance),
            _cpk(found), Cell(_fixed2(found.ppk if found else None)),
            Cell("-" if c.held is None else f"±{c.held.as_running:.3g}"),
            Cell("-" if half is None else f"±{half:.4g}"), _verdict(found)))
    return Grid(("Char.", "Name", "Class", "Tolerance", "N", "Out of tol.", "Cpk (CI)", "Ppk",
                 "Held ±", "Released ±", "Verdict"), tuple(rows),
                (0.55, 1.5, 0.65, 1.45, 0.45, 0.75, 1.3, 0.5, 0.8, 0.8, 0.85),
                "No characteristic was measured.")


Row = tuple[str, int, Capability | None, Held | None, float]


def _row(g: GroupCapability) -> Row:
    return (g.group, g.n, g.capability, g.held, g.out_of_tolerance)


def _grid(rows: Sequence[Row], empty: str) -> Grid:
    cells = []
    for name, n, found, held, outside in rows:
        cells.append((
            Cell(name), Cell(str(n)), Cell(_g(found.mean if found else None, 6)),
            Cell(_g(found.sigma_within if found else None)), _cpk(found),
            Cell(_fixed2(found.ppk if found else None)), _outside(outside),
            Cell("-" if held is None else f"±{held.as_running:.4g}"),
            Cell("-" if held is None else f"±{held.centred:.4g}")))
    return Grid(_HEADERS, tuple(cells), _WIDTHS, empty)


def _counts(c: CharacteristicFeedback) -> str:
    verdict_only = (f"; {c.without_value} recorded by verdict only" if c.without_value
                    else "")
    return (f"{_tolerance(c)}. {c.n} measured values{verdict_only}; {c.failed} measurement(s) "
            f"failed their tolerance; {c.out_of_tolerance:.2%} of the values are out of the "
            "released tolerance.")


def _normality(c: CharacteristicFeedback) -> list[Note]:
    found = c.overall
    if found is None:
        why = ("it has no numeric tolerance" if c.lsl is None and c.usl is None
               else "it has fewer than 3 distinct values")
        return [Note(f"No capability indices: {why}.", "missing")]
    notes = []
    test = found.normality
    if test is not None and test.normal:
        notes.append(Note(f"The values are consistent with a normal distribution "
                          f"(Anderson-Darling p = {test.p_value:.2g}).", "pass"))
    if found.warning:
        notes.append(Note(f"Warning: {found.warning} (percentile Ppk = "
                          f"{_g(found.ppk_percentile)}).", "warn"))
    notes.append(Note(
        f"Expected out of tolerance under a normal distribution: "
        f"{found.expected_out_of_spec_within:.2%} with sigma within, "
        f"{found.expected_out_of_spec_overall:.2%} with the overall sigma; observed "
        f"{found.observed_out_of_spec:.2%}."))
    return notes


def _cpk(found: Capability | None) -> Cell:
    if found is None or found.cpk is None:
        return Cell("-")
    interval = found.cpk_interval
    ci = "" if interval is None else f" ({interval.low:.2f}-{interval.high:.2f})"
    return Cell(f"{found.cpk:.2f}{ci}", _tone(found.cpk))


def _verdict(found: Capability | None) -> Cell:
    if found is None or found.cpk is None:
        return Cell("no index", "missing")
    if found.cpk >= HELD_AT:
        return Cell("capable", "pass")
    return Cell("marginal", "warn") if found.cpk >= 1.0 else Cell("not capable", "fail")


def _tone(cpk: float) -> Tone:
    return "pass" if cpk >= HELD_AT else "warn" if cpk >= 1.0 else "fail"


def _outside(share: float) -> Cell:
    return Cell(f"{share:.2%}", "fail" if share > 0 else "plain")


def _has_capability(c: CharacteristicFeedback) -> bool:
    return c.overall is not None or any(g.capability is not None for g in c.by_machine)


def _name(c: CharacteristicFeedback) -> str:
    designator = f" ({c.designator})" if c.designator and c.designator != "none" else ""
    return f"{c.characteristic}" + (f": {c.name}" if c.name else "") + designator


def _tolerance(c: CharacteristicFeedback) -> str:
    if c.half_width is None:
        return f"Tolerance: {c.limits_text}"
    unit = f" {c.unit}" if c.unit else ""
    nominal = f"nominal {_g(c.nominal, 6)}{unit}, " if c.nominal is not None else ""
    return f"Tolerance {c.limits_text} ({nominal}±{c.half_width:.4g})"


def _fixed2(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _g(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def _moment(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


# -- HTML -------------------------------------------------------------------------------------

_CSS = """
:root { --ink: #111; --muted: #5b5b5b; --rule: #8a8a8a; --band: #e9edf2; --head: #d9dee5; }
* { box-sizing: border-box; }
body { font: 9.5pt/1.35 "Helvetica Neue", Helvetica, Arial, sans-serif; color: var(--ink);
       margin: 0 auto; max-width: 1100px; padding: 16px; }
header { border-bottom: 2px solid var(--ink); margin-bottom: 10px; padding-bottom: 6px; }
header h1 { font-size: 15pt; margin: 0; }
header .sub { font-size: 10pt; margin: 2px 0 6px; }
table { border-collapse: collapse; width: 100%; margin: 2px 0 8px; }
th, td { border: .6pt solid var(--rule); padding: 2px 5px; text-align: left;
         vertical-align: top; }
th { background: var(--head); font-size: 8pt; }
td { font-size: 8.5pt; }
table.meta td { border: none; padding: 0 10px 0 0; font-size: 8pt; }
table.meta td.k { color: var(--muted); white-space: nowrap; }
h2 { font-size: 11pt; background: var(--band); border-left: 4px solid var(--ink);
     padding: 3px 6px; margin: 18px 0 6px; break-after: avoid; }
h3 { font-size: 9pt; margin: 10px 0 3px; break-after: avoid; }
p { margin: 3px 0 5px; }
figure { margin: 8px 0 12px; break-inside: avoid; }
figure img { width: 100%; height: auto; border: 1px solid #ddd; }
.missing { color: var(--muted); font-style: italic; }
.pass { color: #1b5e20; font-weight: bold; }
.fail { color: #b71c1c; font-weight: bold; }
.warn { color: #8a4b00; }
section.new-page { break-before: page; }
footer { margin-top: 14px; border-top: 1px solid var(--ink); padding-top: 4px;
         font-size: 7.5pt; color: var(--muted); }
@media print { body { max-width: none; padding: 0; } @page { size: A4; margin: 12mm; } }
"""


def render_html(document: Layout) -> str:
    """The report as one self-contained HTML page: inline CSS, pictures as data URIs."""
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>{_e(document.title)}</title>",
             '<meta name="generator" content="digital-thread ledger">',
             f"<style>{_CSS}</style>", "</head><body>", "<header>",
             f"<h1>{_e(document.title)}</h1>", f'<div class="sub">{_e(document.subtitle)}</div>',
             '<table class="meta"><tbody>']
    meta = list(document.meta)
    for start in range(0, len(meta), 2):
        parts.append("<tr>" + "".join(f'<td class="k">{_e(k)}</td><td>{_e(v)}</td>'
                                      for k, v in meta[start:start + 2]) + "</tr>")
    parts += ["</tbody></table></header>"]
    for section in document.sections:
        classes = ' class="new-page"' if section.new_page else ""
        parts.append(f"<section{classes}>")
        parts.append(f"<h2>{_e(section.title)}</h2>")
        parts += [_html_block(block) for block in section.blocks]
        parts.append("</section>")
    parts += [f"<footer>{_e(document.title)}: derived from the measurements in the ledger "
              "as of the moment stated above; thread capability prints the same numbers as "
              "text or JSON.</footer>", "</body></html>"]
    return "\n".join(parts)


def _html_block(block: Block) -> str:
    match block:
        case Grid():
            if not block.rows:
                return f'<p class="missing">{_e(block.empty)}</p>'
            total = sum(block.widths)
            cols = "".join(f'<col style="width:{100 * w / total:.1f}%">' for w in block.widths)
            head = "".join(f"<th>{_e(h)}</th>" for h in block.headers)
            body = "".join("<tr>" + "".join(_html_cell(c) for c in row) + "</tr>"
                           for row in block.rows)
            return (f"<table><colgroup>{cols}</colgroup><thead><tr>{head}</tr></thead>"
                    f"<tbody>{body}</tbody></table>")
        case Caption():
            return f"<h3>{_e(block.text)}</h3>"
        case Note():
            return f'<p class="{block.tone}">{_e(block.text)}</p>'
        case Picture():
            data = base64.b64encode(block.png).decode("ascii")
            return (f'<figure><img src="data:image/png;base64,{data}" alt="{_e(block.alt)}" '
                    f'width="{round(block.width * 96)}" height="{round(block.height * 96)}">'
                    "</figure>")


def _html_cell(value: Cell) -> str:
    tone = f' class="{value.tone}"' if value.tone != "plain" else ""
    return f"<td{tone}>{_e(value.text)}</td>"


def _e(text: object) -> str:
    return escape(str(text), quote=True)


# -- PDF --------------------------------------------------------------------------------------

_MARGIN = 12 * mm
_PICTURE_WIDTH = 0.92
#: With this much of the page left, a table too long for it starts here and breaks.
_SPLIT_FROM = 45 * mm
_TOP = 18 * mm
_BOTTOM = 15 * mm
_BODY = ParagraphStyle("body", fontName=REGULAR, fontSize=8, leading=10.2, textColor=INK,
                       spaceAfter=3)
_CELL = ParagraphStyle("cell", parent=_BODY, fontSize=7, leading=8.6, spaceAfter=0)
_HEADER_CELL = ParagraphStyle("header-cell", parent=_CELL, fontName=BOLD, fontSize=6.8)
_TITLE = ParagraphStyle("title", parent=_BODY, fontName=BOLD, fontSize=15, leading=18)
_SUBTITLE = ParagraphStyle("subtitle", parent=_BODY, fontSize=10, leading=13, spaceAfter=5)
_HEADING = ParagraphStyle("heading", parent=_BODY, fontName=BOLD, fontSize=10.5, leading=13,
                          backColor=BAND, borderPadding=(3, 4, 3, 4), spaceBefore=8,
                          spaceAfter=6, keepWithNext=True)
# not keepWithNext: :class:`_Together` keeps a caption with its block, and may let it break
_CAPTION = ParagraphStyle("caption", parent=_BODY, fontName=BOLD, spaceBefore=5, spaceAfter=2)
_META_KEY = ParagraphStyle("meta-key", parent=_CELL, textColor=MUTED)
_GRID_STYLE = TableStyle([
    ("FONTNAME", (0, 0), (-1, -1), REGULAR),
    ("GRID", (0, 0), (-1, -1), 0.5, RULE),
    ("BACKGROUND", (0, 0), (-1, 0), HEAD),
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ("LEFTPADDING", (0, 0), (-1, -1), 2.5), ("RIGHTPADDING", (0, 0), (-1, -1), 2.5),
    ("TOPPADDING", (0, 0), (-1, -1), 1.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
])


def render_pdf(document: Layout) -> bytes:
    """The report as an A4 PDF with numbered pages, the pictures at the text's width."""
    register()
    _, pages = _build(document, None)  # a first pass counts the pages for "page x of y"
    data, _ = _build(document, pages)
    return data


def _build(document: Layout, total: int | None) -> tuple[bytes, int]:
    buffer = BytesIO()
    template = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=_MARGIN, rightMargin=_MARGIN, topMargin=_TOP,
        bottomMargin=_BOTTOM, title=document.title, author="digital-thread ledger",
        subject=document.subtitle, creator="digital-thread ledger", invariant=True,
        lang="en", initialFontName=REGULAR, initialFontSize=8)
    pages = [0]

    def decorate(canvas: Canvas, doc: Any) -> None:
        pages[0] = doc.page
        _decorate(canvas, document, doc.page, total)

    # The counting pass lays out a picture's box without decoding and compressing the PNG.
    template.build(_story(document, A4[0] - 2 * _MARGIN, draw=total is not None),
                   onFirstPage=decorate, onLaterPages=decorate)
    return buffer.getvalue(), pages[0]


def _decorate(canvas: Canvas, document: Layout, page: int, total: int | None) -> None:
    width, height = A4
    left, right = _MARGIN, width - _MARGIN
    canvas.saveState()
    canvas.setFillColor(INK)
    canvas.setFont(BOLD, 8.5)
    canvas.drawString(left, height - 10 * mm, printable(document.title))
    canvas.setFont(REGULAR, 8)
    canvas.drawRightString(right, height - 10 * mm, f"Page {page} of {total or '?'}")
    canvas.setStrokeColor(INK)
    canvas.setLineWidth(0.6)
    canvas.line(left, height - 12 * mm, right, height - 12 * mm)
    canvas.setLineWidth(0.4)
    canvas.line(left, 11 * mm, right, 11 * mm)
    canvas.setFont(REGULAR, 6.5)
    canvas.setFillColor(MUTED)
    as_of = dict(document.meta).get("Ledger as of", "")
    canvas.drawString(left, 7.5 * mm, printable(
        f"Derived from the ledger's measurements as of {as_of} by the digital-thread ledger."))
    canvas.restoreState()


def _story(document: Layout, width: float, *, draw: bool) -> list[Flowable]:
    story: list[Flowable] = [Paragraph(_safe(document.title), _TITLE),
                             Paragraph(_safe(document.subtitle), _SUBTITLE),
                             _meta(document.meta, width), Spacer(1, 4)]
    for section in document.sections:
        if section.new_page:
            story.append(PageBreak())
        flow: list[Flowable] = [Paragraph(_safe(section.title), _HEADING)]
        pending: list[Flowable] = []
        for block in section.blocks:
            if isinstance(block, Picture):
                pending.append(Spacer(1, 8))
            pending.append(_pdf_block(block, width, draw=draw))
            if not isinstance(block, Caption):  # a caption travels with what it names
                flow.append(pending[0] if len(pending) == 1 else _Together(pending))
                pending = []
        story += flow + pending
    return story


class _Together(KeepTogether):  # type: ignore[misc]  # reportlab is untyped
    """A caption with the table or picture it names: kept whole on this page when it fits;
    started here when a fair share of the page is left (a table then breaks between rows,
    its header repeated); else moved to the next page."""

    def split(self, available_width: float, available_height: float) -> list[Flowable]:
        if getattr(self, "_wrapInfo", None) != (available_width, available_height):
            self.wrap(available_width, available_height)
        content: list[Flowable] = list(self._content)
        if available_height >= self._H or available_height >= _SPLIT_FROM:
            return content
        return [self.FrameBreak(), *content]


def _meta(meta: Sequence[tuple[str, str]], width: float) -> Table:
    rows: list[list[Any]] = []
    pairs = list(meta)
    for start in range(0, len(pairs), 2):
        row: list[Any] = []
        for key, value in pairs[start:start + 2]:
            row += [Paragraph(_safe(key), _META_KEY), Paragraph(_safe(value), _CELL)]
        rows.append(row + [""] * (4 - len(row)))
    table = Table(rows, colWidths=[width * w for w in (0.15, 0.35, 0.15, 0.35)])
    table.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), REGULAR), ("BOX", (0, 0), (-1, -1), 0.6, RULE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5)]))
    return table


def _pdf_block(block: Block, width: float, *, draw: bool = True) -> Flowable:
    match block:
        case Grid():
            if not block.rows:
                return Paragraph(f"<i>{_safe(block.empty)}</i>", _BODY)
            total = sum(block.widths)
            data: list[list[Any]] = [[Paragraph(_safe(h), _HEADER_CELL) for h in block.headers]]
            data += [[_pdf_cell(value) for value in row] for row in block.rows]
            table = Table(data, colWidths=[width * w / total for w in block.widths],
                          repeatRows=1)
            table.setStyle(_GRID_STYLE)
            return table
        case Caption():
            return Paragraph(_safe(block.text), _CAPTION)
        case Note():
            style = ParagraphStyle(f"note-{block.tone}", parent=_BODY,
                                   textColor=TONES[block.tone],
                                   fontName=ITALIC if block.tone == "missing" else REGULAR)
            return Paragraph(_safe(block.text), style)
        case Picture():
            # a little narrower than the text: the picture's own text stays legible, and a
            # characteristic's tables and pictures fit on one page
            drawn = width * _PICTURE_WIDTH
            height = drawn * block.height / block.width
            if not draw:
                return Spacer(drawn, height)
            return Image(BytesIO(block.png), width=drawn, height=height)


def _pdf_cell(value: Cell) -> Paragraph:
    style = ParagraphStyle(f"cell-{value.tone}", parent=_CELL, textColor=TONES[value.tone],
                           fontName={"pass": BOLD, "fail": BOLD,
                                     "missing": ITALIC}.get(value.tone, REGULAR))
    return Paragraph(_safe(value.text), style)


def _safe(text: str) -> str:
    """Paragraph markup for plain text in the embedded faces."""
    return xml_escape(printable(text))
