"""Bounded work for Markdown a person wrote (issue 16 item 8).

Every path that parses or renders a document (the exports, the assistant's format and
validate) measures the Markdown against these limits *before* the expensive step, and checks
a time budget between steps, so one document cannot hold a worker for minutes. Over a limit
the answer is **422 ``too_complex``** naming the limit and what was found (the request itself
was well formed; its content cannot be processed within bounds). A request *body* over its
byte limit stays **413 ``body_too_large``** (``core.http.read_body``).

The parser is markdown-it (CommonMark, GitHub tables and strikethrough, raw HTML escaped),
imported on these paths only. Its link normaliser is wrapped so that reference links, which
a short document can use thousands of times, spend from a byte budget as they are expanded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from core.errors import ApiError

# Word holds at most 63 columns in a table; a wider one cannot be opened as written.
MAX_TABLE_COLUMNS = 63
MAX_TABLE_CELLS = 10_000  # in the whole document
# Lists, quotes and emphasis inside each other, as markdown-it counts (a list is two levels:
# the list and its item). markdown-it stops parsing (silently drops the rest of the document)
# at its own nesting limit, so the parser's limit is set above this one and checked.
MAX_DEPTH = 20  # markdown-it's CommonMark default, where mdformat's own parser stops
MAX_BLOCKS = 20_000  # paragraphs, headings, list items, code blocks ...
# Bytes of link targets the parser normalises (a reference link costs its target's length at
# every use) and bytes an export may produce: API Gateway + Lambda answer at most 6 MB, and a
# binary answer travels base64-encoded.
MAX_LINK_BYTES = 1_000_000
MAX_OUTPUT_BYTES = 4 * 1024 * 1024
# Well under the HTTP Lambdas' 29 s (serverless.yml): the client gets this answer, not a 504.
SECONDS = 10.0


def too_complex(message: str) -> ApiError:
    return ApiError(422, "too_complex", message)


class Budget:
    """A deadline for one request's work, checked between steps."""

    def __init__(self, what: str, seconds: float = SECONDS) -> None:
        self.what = what
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() > self.deadline:
            raise too_complex(
                f"{self.what} needs more than its {self.seconds:g} s budget; "
                "split the document into smaller ones"
            )


# Block tokens that count as one block each (table rows and cells are counted as cells).
_BLOCKS = {
    "paragraph_open", "heading_open", "list_item_open", "blockquote_open", "table_open",
    "fence", "code_block", "hr", "html_block",
}  # fmt: skip


@dataclass
class Measure:
    """What the limits look at, from the token stream."""

    depth: int = 0
    blocks: int = 0
    cells: int = 0
    widest: int = 0
    widest_line: int = 0
    output_bytes: int = 0


def measure(tokens: list[Any]) -> Measure:
    """Depth, blocks, table cells and an estimate of the rendered size (text and attributes
    of every token, which every renderer writes out at least once)."""
    m = Measure()
    columns = row_line = 0
    for token in tokens:
        m.depth = max(m.depth, token.level + (token.nesting == 1))
        kind = token.type
        if kind in _BLOCKS:
            m.blocks += 1
        elif kind == "tr_open":
            columns, row_line = 0, (token.map[0] + 1) if token.map else 0
        elif kind in ("th_open", "td_open"):
            columns += 1
            m.cells += 1
            if columns > m.widest:
                m.widest, m.widest_line = columns, row_line
        m.output_bytes += len(token.content) + sum(len(str(v)) for v in token.attrs.values())
        for child in token.children or ():
            m.depth = max(m.depth, token.level + child.level + (child.nesting == 1))
            m.output_bytes += len(child.content) + sum(len(str(v)) for v in child.attrs.values())
    return m


def check(m: Measure) -> None:
    """422 naming the first limit the document is over."""
    if m.depth > MAX_DEPTH:
        raise too_complex(
            f"the document nests lists, quotes or emphasis {m.depth} levels deep (a list "
            f"counts two: the list and its item); at most {MAX_DEPTH}"
        )
    if m.widest > MAX_TABLE_COLUMNS:
        raise too_complex(
            f"the table at line {m.widest_line} has {m.widest} columns; "
            f"at most {MAX_TABLE_COLUMNS} (Word's own limit)"
        )
    if m.cells > MAX_TABLE_CELLS:
        raise too_complex(
            f"the document's tables have {m.cells} cells; at most {MAX_TABLE_CELLS} in all"
        )
    if m.blocks > MAX_BLOCKS:
        raise too_complex(f"the document has {m.blocks} blocks; at most {MAX_BLOCKS}")
    if m.output_bytes > MAX_OUTPUT_BYTES:
        raise too_complex(
            f"the document renders to more than {MAX_OUTPUT_BYTES} bytes; "
            "split it into smaller ones"
        )


def parser(budget: Budget) -> Any:
    """A markdown-it parser that checks the limits as it goes: the block structure before
    any inline parsing, the budget every 200 inline runs, link expansion byte by byte."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "maxNesting": MAX_DEPTH + 2})
    md.enable(["table", "strikethrough"])

    def blocks_within_limits(state: Any) -> None:
        budget.check()
        check(measure(state.tokens))

    def inline_within_budget(state: Any) -> None:
        for n, token in enumerate(state.tokens):
            if token.type == "inline":
                if n % 200 == 0:
                    budget.check()
                token.children = token.children or []
                state.md.inline.parse(token.content, state.md, state.env, token.children)

    md.core.ruler.at("inline", inline_within_budget)
    md.core.ruler.after("block", "limits", blocks_within_limits)
    normalise = md.normalizeLink
    spent = 0

    def counted(url: str) -> str:
        nonlocal spent
        spent += len(url)
        if spent > MAX_LINK_BYTES:
            raise too_complex(
                f"the links of the document expand to more than {MAX_LINK_BYTES} bytes "
                "(a reference link counts at every use)"
            )
        return normalise(url)

    md.normalizeLink = counted
    return md


def parse(markdown: str, budget: Budget) -> tuple[Any, list[Any]]:
    """(parser, tokens) of a document within the limits; 422 ``too_complex`` otherwise."""
    md = parser(budget)
    tokens = md.parse(markdown)
    budget.check()
    check(measure(tokens))
    return md, tokens
