"""Exports of a document version: Markdown as stored, HTML (markdown-it-py) and DOCX
(python-docx). The libraries are imported here, on the export path only: no other cold start
pays for them."""

from __future__ import annotations

import html
import io
import re
from typing import Any

from core import mdlimits
from core.mdlimits import Budget

MEDIA_TYPES = {
    "md": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


# What XML 1.0 (and so a .docx) cannot hold: C0 controls but tab, newline and carriage
# return, lone surrogates, U+FFFE and U+FFFF. Postgres text can hold them, so a version
# may; the export shows each as U+FFFD instead of failing or dropping it unseen.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def to_html(markdown: str, title: str, budget: Budget | None = None) -> bytes:
    budget = budget or Budget("the HTML export")
    md, tokens = mdlimits.parse(markdown, budget)
    body = md.renderer.render(tokens, md.options, {})
    budget.check()
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n"
        "<style>body{font-family:system-ui,sans-serif;max-width:50rem;margin:2rem auto;"
        "line-height:1.5}table{border-collapse:collapse}th,td{border:1px solid #999;"
        "padding:.25rem .5rem}pre{background:#f4f4f4;padding:.75rem;overflow:auto}</style>\n"
        f"</head>\n<body>\n{body}</body>\n</html>\n"
    )
    return page.encode("utf-8")


def _inline(paragraph: Any, token: Any) -> None:
    """Runs of an inline token: bold, italic, code, strikethrough, links as text."""
    bold = italic = strike = False
    for child in token.children or []:
        kind = child.type
        if kind == "strong_open":
            bold = True
        elif kind == "strong_close":
            bold = False
        elif kind == "em_open":
            italic = True
        elif kind == "em_close":
            italic = False
        elif kind == "s_open":
            strike = True
        elif kind == "s_close":
            strike = False
        elif kind in ("text", "code_inline", "html_inline"):
            run = paragraph.add_run(child.content)
            run.bold, run.italic = bold or None, italic or None
            if strike:
                run.font.strike = True
            if kind == "code_inline":
                run.font.name = "Courier New"
        elif kind in ("softbreak", "hardbreak"):
            paragraph.add_run(" " if kind == "softbreak" else "\n")
        elif kind == "image":
            paragraph.add_run(f"[{child.content or 'image'}]")


class _Body:
    """Appends blocks to a python-docx document in constant time each. (python-docx's own
    ``add_paragraph``/``add_table`` look for the body's last element on every call, and
    ``Table.cell`` rebuilds the grid on every call: both quadratic in a long document.)"""

    def __init__(self, document: Any) -> None:
        from docx.oxml import OxmlElement
        from docx.table import Table
        from docx.text.paragraph import Paragraph

        self._new, self._paragraph, self._table = OxmlElement, Paragraph, Table
        self.document = document
        self.container = document._body
        self.body = document.element.body
        self.sect = self.body.sectPr  # the body's last element: blocks go before it
        self.styles: dict[str, str] = {}

    def _append(self, element: Any) -> None:
        if self.sect is not None:
            self.sect.addprevious(element)
        else:
            self.body.append(element)

    def paragraph(self, style: str | None = None) -> Any:
        p = self._new("w:p")
        if style:
            if style not in self.styles:
                self.styles[style] = self.document.styles[style].style_id
            p.style = self.styles[style]
        self._append(p)
        return self._paragraph(p, self.container)

    def table(self, rows: int, cols: int) -> tuple[Any, list[list[Any]]]:
        """(table, its cells' first paragraphs by row)."""
        from docx.oxml.table import CT_Tbl

        section = self.document.sections[-1]
        width = section.page_width - section.left_margin - section.right_margin
        tbl = CT_Tbl.new_tbl(rows, cols, width)
        self._append(tbl)
        table = self._table(tbl, self.container)
        grid = [[self._paragraph(tc.p_lst[0], table) for tc in tr.tc_lst] for tr in tbl.tr_lst]
        return table, grid


def to_docx(markdown: str, title: str, budget: Budget | None = None) -> bytes:
    from docx import Document
    from docx.shared import Pt

    budget = budget or Budget("the DOCX export")
    markdown, title = xml_safe(markdown), xml_safe(title)
    _, tokens = mdlimits.parse(markdown, budget)
    document = Document()
    document.core_properties.title = title
    body = _Body(document)
    lists: list[str] = []  # "List Bullet" / "List Number" per open list
    i = 0
    while i < len(tokens):
        if i % 500 == 0:
            budget.check()
        token = tokens[i]
        kind = token.type
        if kind == "heading_open":
            level = int(token.tag[1])
            heading = body.paragraph(f"Heading {min(level, 9)}")
            _inline(heading, tokens[i + 1])
            i += 3
            continue
        if kind == "bullet_list_open":
            lists.append("List Bullet")
        elif kind == "ordered_list_open":
            lists.append("List Number")
        elif kind in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif kind == "paragraph_open":
            inline = tokens[i + 1]
            if lists:
                depth = len(lists)
                paragraph = body.paragraph(lists[-1] + (f" {depth}" if 1 < depth <= 3 else ""))
            else:
                paragraph = body.paragraph()
            _inline(paragraph, inline)
            i += 3
            continue
        elif kind in ("fence", "code_block"):
            paragraph = body.paragraph("No Spacing")
            run = paragraph.add_run(token.content.rstrip("\n"))
            run.font.name = "Courier New"
            run.font.size = Pt(9)
        elif kind == "blockquote_open":
            pass  # its paragraphs follow; rendered as normal paragraphs
        elif kind == "hr":
            body.paragraph().add_run("―" * 20)
        elif kind == "table_open":
            i = _table(body, tokens, i)
            continue
        i += 1
    out = io.BytesIO()
    document.save(out)
    budget.check()
    return out.getvalue()


def _table(body: _Body, tokens: list[Any], i: int) -> int:
    """Add the table starting at tokens[i]; return the index after it."""
    rows: list[tuple[bool, list[Any]]] = []
    header = False
    while tokens[i].type != "table_close":
        kind = tokens[i].type
        if kind == "thead_open":
            header = True
        elif kind == "thead_close":
            header = False
        elif kind == "tr_open":
            rows.append((header, []))
        elif kind == "inline":
            rows[-1][1].append(tokens[i])
        i += 1
    width = max((len(cells) for _, cells in rows), default=0)
    if rows and width:
        table, grid = body.table(len(rows), width)
        table.style = "Table Grid"
        for (is_header, cells), row in zip(rows, grid, strict=True):
            for inline, paragraph in zip(cells, row, strict=False):
                _inline(paragraph, inline)
                if is_header:
                    for run in paragraph.runs:
                        run.bold = True
    return i + 1


def render(markdown: str, fmt: str, title: str) -> bytes:
    """The version in ``fmt``; 422 ``too_complex`` over a limit of ``core.mdlimits``."""
    if fmt == "html":
        return to_html(markdown, title)
    if fmt == "docx":
        return to_docx(markdown, title)
    return markdown.encode("utf-8")
