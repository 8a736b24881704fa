"""The HTML copy of a record: one self-contained, print-friendly page, no external resources."""

from __future__ import annotations

from html import escape

from thread.records.documents import Record, document_of
from thread.records.evidence import EventRef, RecordField, SignatureRecord, moment
from thread.records.layout import Block, Boxes, Caption, Cell, Document, Grid, Note, Section, cited

_CSS = """
:root { --ink: #111; --muted: #5b5b5b; --rule: #8a8a8a; --band: #e9edf2; --head: #d9dee5; }
* { box-sizing: border-box; }
body { font: 9pt/1.3 "Helvetica Neue", Helvetica, Arial, sans-serif; color: var(--ink);
       margin: 0 auto; max-width: 1120px; padding: 16px; }
header.doc { border-bottom: 2px solid var(--ink); margin-bottom: 10px; padding-bottom: 6px; }
header.doc h1 { font-size: 15pt; margin: 0; letter-spacing: .02em; text-transform: uppercase; }
header.doc .sub { font-size: 10pt; margin: 2px 0 6px; }
table { border-collapse: collapse; width: 100%; margin: 2px 0 6px; }
th, td { border: .6pt solid var(--rule); padding: 2px 4px; vertical-align: top;
         text-align: left; overflow-wrap: anywhere; }
th { background: var(--head); font-size: 7.5pt; font-weight: bold; }
td { font-size: 8pt; }
thead { display: table-header-group; }
tr { page-break-inside: avoid; break-inside: avoid; }
table.meta td { border: none; padding: 0 8px 0 0; font-size: 7.5pt; }
table.meta td.k { color: var(--muted); white-space: nowrap; }
td.box .label { font-size: 6.5pt; color: var(--muted); text-transform: uppercase; }
td.box .value { font-size: 8.5pt; min-height: 1.2em; }
td.box .from { font-size: 6pt; color: var(--muted); }
td.box .note { font-size: 7.5pt; }
h2 { font-size: 10.5pt; background: var(--band); border-left: 4px solid var(--ink);
     padding: 3px 6px; margin: 14px 0 4px; page-break-after: avoid; break-after: avoid; }
h3 { font-size: 8.5pt; margin: 8px 0 2px; page-break-after: avoid; break-after: avoid; }
p.basis { font-size: 7.5pt; color: var(--muted); margin: 0 0 4px; }
p.evidence { font-size: 6.5pt; color: var(--muted); margin: 2px 0 6px;
             font-family: "Courier New", Courier, monospace; overflow-wrap: anywhere; }
.missing { color: var(--muted); font-style: italic; }
.pass { color: #1b5e20; font-weight: bold; }
.fail { color: #b71c1c; font-weight: bold; }
.warn { color: #8a4b00; }
.mono { font-family: "Courier New", Courier, monospace; font-size: 7pt; overflow-wrap: anywhere; }
section.new-page { page-break-before: always; break-before: page; }
footer { margin-top: 12px; border-top: 1px solid var(--ink); padding-top: 4px; font-size: 7pt;
         color: var(--muted); }
@media print {
  body { max-width: none; padding: 0; }
  a { color: inherit; text-decoration: none; }
}
"""


def render_html(record: Record | Document) -> str:
    """The record as one self-contained HTML page (inline CSS, no scripts, no fonts)."""
    document = document_of(record)
    info = document.info
    size = "A4 landscape" if document.landscape else "A4 portrait"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(info.document_id)} {_e(info.title)}</title>",
        '<meta name="generator" content="digital-thread ledger">',
        f"<style>{_CSS}@page {{ size: {size}; margin: 12mm; }}</style>",
        "</head><body>",
        '<header class="doc">',
        f"<h1>{_e(info.title)}</h1>",
        f'<div class="sub">{_e(document.subtitle)}</div>',
        '<table class="meta"><tbody>',
        _meta("Document", info.document_id, "Standard", info.standard),
        _meta("Generated", moment(info.generated_at), "Scope", info.as_of_note),
        _meta("Ledger origin", info.ledger_origin, "Log head",
              f"{info.log_size} leaves, root {info.log_root}"),
        _meta("Evidence digest", info.evidence_digest, "", ""),
        "</tbody></table></header>",
    ]
    if document.summary:
        parts.append(_boxes(Boxes(document.summary, 4)))
    for section in document.sections:
        parts.append(_section(section))
    parts.append(_signatures(document.signatures))
    for section in document.appendix:
        parts.append(_section(section))
    parts.append(_evidence_index(document.evidence))
    parts.append(
        f"<footer>{_e(info.document_id)} is a copy of ledger facts (21 CFR 11.10(b)). Each "
        "section lists the events it was derived from by subject, version, position in the "
        f"ledger's verifiable log ({_e(info.ledger_origin)}) and SHA-256 hash; "
        "<code>thread verify</code> re-derives them, and a part dossier proves them offline. "
        "Fields marked Not recorded have no fact in the ledger.</footer>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _meta(k1: str, v1: str, k2: str, v2: str) -> str:
    return (f'<tr><td class="k">{_e(k1)}</td><td>{_e(v1)}</td>'
            f'<td class="k">{_e(k2)}</td><td>{_e(v2)}</td></tr>')


def _section(section: Section) -> str:
    classes = ' class="new-page"' if section.new_page else ""
    html = [f"<section{classes}>", f"<h2>{_e(section.title)}</h2>"]
    if section.basis:
        html.append(f'<p class="basis">{_e(section.basis)}</p>')
    html += [_block(block) for block in section.blocks]
    if section.cites:
        html.append(f'<p class="evidence">Evidence: {_e(cited(section.evidence))}</p>')
    html.append("</section>")
    return "\n".join(html)


def _block(block: Block) -> str:
    match block:
        case Boxes():
            return _boxes(block)
        case Grid():
            return _grid(block)
        case Caption():
            return f"<h3>{_e(block.text)}</h3>"
        case Note():
            return f'<p class="{block.tone}">{_e(block.text)}</p>'


def _value(fld: RecordField) -> str:
    if fld.status == "not recorded":
        return '<span class="missing">Not recorded</span>'
    return _e(fld.text) + (f' <span class="note">({_e(fld.note)})</span>' if fld.note else "")


def _boxes(boxes: Boxes) -> str:
    rows = []
    fields = list(boxes.fields)
    for start in range(0, len(fields), boxes.columns):
        chunk = fields[start:start + boxes.columns]
        cells = []
        for index, fld in enumerate(chunk):
            span = boxes.columns - len(chunk) + 1 if index == len(chunk) - 1 else 1
            label = f"{fld.number}. {fld.name}" if fld.number else fld.name
            origin = fld.status if fld.status in ("not recorded", "not applicable") else (
                f"{fld.status} from {fld.derived_from}")
            if fld.status == "not recorded":
                origin = fld.derived_from
            cells.append(
                f'<td class="box" colspan="{span}"><div class="label">{_e(label)}</div>'
                f'<div class="value">{_value(fld)}</div>'
                f'<div class="from">{_e(origin)}</div></td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    width = f"{100 / boxes.columns:.2f}%"
    cols = "".join(f'<col style="width:{width}">' for _ in range(boxes.columns))
    return f"<table><colgroup>{cols}</colgroup><tbody>{''.join(rows)}</tbody></table>"


def _cell(value: Cell) -> str:
    return f'<td class="{value.tone}">{_e(value.text)}</td>'


def _grid(grid: Grid) -> str:
    if not grid.rows:
        return f'<p class="missing">{_e(grid.empty)}</p>'
    total = sum(grid.widths)
    cols = "".join(f'<col style="width:{100 * w / total:.1f}%">' for w in grid.widths)
    head = "".join(f"<th>{_e(h)}</th>" for h in grid.headers)
    body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in grid.rows)
    return (f"<table><colgroup>{cols}</colgroup><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table>")


def _signatures(signatures: tuple[SignatureRecord, ...]) -> str:
    html = ["<section>", "<h2>Electronic signatures (21 CFR 11.50, 11.70)</h2>"]
    if not signatures:
        html.append('<p class="missing">No electronic signature on the facts of this '
                    "record.</p>")
    else:
        html.append(
            "<table><thead><tr><th>Printed name (signer id)</th><th>Meaning</th>"
            "<th>Date and time (UTC)</th><th>Signed record</th><th>Verification</th>"
            "</tr></thead><tbody>")
        for s in signatures:
            tone = {"verified": "pass", "key not pinned": "warn"}.get(s.status, "fail")
            html.append(
                f"<tr><td><b>{_e(s.printed_name)}</b> ({_e(s.signer)})</td>"
                f"<td>{_e(s.meaning)}</td><td>{_e(moment(s.signed_at))}</td>"
                f"<td>{_e(s.signed.label)} (log #{_e(s.signed.position)}): "
                f"{_e(s.signed_summary)}</td>"
                f'<td><span class="{tone}">{_e(s.label)}</span>: '
                f"{_e(s.details)}</td></tr>")
        html.append("</tbody></table>")
    html.append("</section>")
    return "\n".join(html)


def _evidence_index(evidence: tuple[EventRef, ...]) -> str:
    html = ["<section>", "<h2>Evidence index</h2>",
            '<p class="basis">Every event this record was derived from, as held in the '
            "ledger's verified chains.</p>",
            "<table><colgroup><col style='width:16%'><col style='width:4%'>"
            "<col style='width:6%'><col style='width:20%'><col style='width:16%'>"
            "<col style='width:38%'></colgroup><thead><tr><th>Subject</th><th>Ver.</th>"
            "<th>Log #</th><th>Topic</th><th>Occurred / recorded (UTC)</th>"
            "<th>SHA-256</th></tr></thead><tbody>"]
    for ref in evidence:
        html.append(
            f"<tr><td>{_e(ref.kind)} {_e(ref.key)}</td><td>{ref.version}</td>"
            f"<td>{'' if ref.position is None else ref.position}</td><td>{_e(ref.topic)}</td>"
            f"<td>{_e(moment(ref.occurred_at))}<br>{_e(moment(ref.recorded_at))}</td>"
            f'<td class="mono">{_e(ref.hash)}</td></tr>')
    html.append("</tbody></table></section>")
    return "\n".join(html)
