"""Bounded work for user Markdown (issue 16 item 8): the exports and the assistant measure a
document against ``core.mdlimits`` before the expensive step and answer 422 ``too_complex``
naming the limit. Over HTTP through the gateway, as a project member; no test measures time:
each asserts the answer (before the fix, the first ones ran for minutes at 100 % CPU).
"""

from __future__ import annotations

import io
import re
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.functions.conftest import Team
from tests.support import Stack

# A 2-row table (header and delimiter) of 20,000 columns, under 64 KiB: the DOCX export ran
# over 7 minutes on it (python-docx's Table.cell rebuilds the grid on every call).
WIDE_TABLE = "|" * 20_001 + "\n" + "-|" * 20_000 + "\n"


def new_document(stack: Stack, team: Team, content: str, type_: str = "custom") -> str:
    editor = stack.rest(team.members["editor"].token)
    doc = editor.table("documents").insert(
        {"project_id": team.project_id, "title": "Limits", "type": type_,
         "created_by": team.members["editor"].id}
    ).execute().data[0]  # fmt: skip
    editor.table("document_versions").insert(
        {"document_id": doc["id"], "content": content, "author_id": team.members["editor"].id}
    ).execute()
    return doc["id"]


def export(stack: Stack, team: Team, document_id: str, fmt: str) -> httpx.Response:
    with stack.http(team.members["viewer"].token) as http:
        return http.get(f"/functions/v1/documents/{document_id}/export", params={"format": fmt})


def assistant(stack: Stack, team: Team, path: str, body: dict[str, Any]) -> httpx.Response:
    with stack.http(team.members["viewer"].token) as http:
        return http.post(f"/functions/v1/assistant/{path}", json=body)


def assert_too_complex(answer: httpx.Response, words: str) -> None:
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert set(body) == {"error", "message", "request_id"}
    assert body["error"] == "too_complex"
    assert words in body["message"], body["message"]


@pytest.mark.parametrize("fmt", ["html", "docx"])
def test_a_20000_column_table_is_refused_with_422_before_rendering(
    stack: Stack, team: Team, fmt: str
) -> None:
    assert len(WIDE_TABLE.encode()) < 64 * 1024
    document_id = new_document(stack, team, WIDE_TABLE)
    assert_too_complex(export(stack, team, document_id, fmt), "has 20000 columns; at most 63")


def test_the_markdown_export_of_a_wide_table_is_the_stored_text(stack: Stack, team: Team) -> None:
    """Markdown is exported as stored: no parsing, nothing to bound but its size."""
    answer = export(stack, team, new_document(stack, team, WIDE_TABLE), "md")
    assert answer.status_code == 200
    assert answer.text == WIDE_TABLE


@pytest.mark.parametrize(
    "content",
    [
        pytest.param("> " * 5_000 + "deep\n", id="quotes"),
        pytest.param("".join("  " * i + "- item\n" for i in range(200)), id="lists"),
        pytest.param("".join(" " * (3 * i) + "1. item\n" for i in range(40)), id="ordered"),
    ],
)
@pytest.mark.parametrize("fmt", ["html", "docx"])
def test_deeply_nested_lists_and_quotes_are_refused_with_422(
    stack: Stack, team: Team, content: str, fmt: str
) -> None:
    document_id = new_document(stack, team, content)
    assert_too_complex(export(stack, team, document_id, fmt), "levels deep")


@pytest.mark.parametrize("fmt", ["html", "docx"])
def test_a_reference_link_used_thousands_of_times_is_refused_with_422(
    stack: Stack, team: Team, fmt: str
) -> None:
    """28 KB of Markdown that expands to megabytes: one long link target, 3,000 uses."""
    bomb = "[a]: /" + "x" * 20_000 + "\n\n" + "[a]" * 3_000 + "\n"
    assert_too_complex(export(stack, team, new_document(stack, team, bomb), fmt), "bytes")


def test_a_table_at_the_limits_still_exports_every_cell(stack: Stack, team: Team) -> None:
    import docx

    header = "|" + "|".join(f"h{c}" for c in range(63)) + "|\n" + "|---" * 63 + "|\n"
    rows = "".join("|" + "|".join(f"r{r}c{c}" for c in range(63)) + "|\n" for r in range(60))
    document_id = new_document(stack, team, header + rows)
    answer = export(stack, team, document_id, "docx")
    assert answer.status_code == 200, answer.text
    table = docx.Document(io.BytesIO(answer.content)).tables[0]
    assert len(table.rows) == 61 and len(table.columns) == 63
    assert table.rows[0].cells[62].text == "h62"
    assert table.rows[60].cells[62].text == "r59c62"
    assert table.rows[0].cells[0].paragraphs[0].runs[0].bold


def test_a_long_document_exports_every_paragraph_in_order(stack: Stack, team: Team) -> None:
    """Blocks are appended in constant time (python-docx's add_paragraph is linear per call)."""
    import docx

    content = "".join(f"## Part {n}\n\nParagraph {n}.\n\n" for n in range(3_000))
    answer = export(stack, team, new_document(stack, team, content), "docx")
    assert answer.status_code == 200, answer.text
    texts = [p.text for p in docx.Document(io.BytesIO(answer.content)).paragraphs]
    assert texts[:4] == ["Part 0", "Paragraph 0.", "Part 1", "Paragraph 1."]
    assert texts[-1] == "Paragraph 2999." and len(texts) == 6_000


def test_format_refuses_a_wide_table_with_422(stack: Stack, team: Team) -> None:
    table = "|" * 15_001 + "\n" + "-|" * 15_000 + "\n"
    assert_too_complex(assistant(stack, team, "format", {"markdown": table}), "15000 columns")


def test_format_refuses_nesting_it_would_silently_drop(stack: Stack, team: Team) -> None:
    """mdformat's parser stops at 20 levels and leaves out the rest: 422, not lost text."""
    answer = assistant(stack, team, "format", {"markdown": "> " * 25 + "kept?\n"})
    assert_too_complex(answer, "levels deep")
    ok = assistant(stack, team, "format", {"markdown": "> " * 10 + "kept\n"})
    assert ok.status_code == 200 and "kept" in ok.json()["markdown"]


def test_validate_reads_a_heading_followed_by_a_long_run_of_spaces(
    stack: Stack, team: Team
) -> None:
    """The old heading pattern backtracked cubically here (minutes for 3,000 spaces)."""
    content = "## 1. Overview" + " " * 20_000 + "##\n\nText.\n\n## Empty" + " " * 5_000 + "\n"
    document_id = new_document(stack, team, content, "prd")
    answer = assistant(
        stack, team, "validate", {"project_id": team.project_id, "document_id": document_id}
    )
    assert answer.status_code == 200, answer.text
    findings = answer.json()["findings"]
    assert {"rule": "empty_section", "section": "Empty"} in [
        {"rule": f["rule"], "section": f["location"]["section"]} for f in findings
    ]
    missing = {f["message"] for f in findings if f["rule"] == "missing_section"}
    assert not any("'Overview'" in m for m in missing), "the spaced heading is a section"


def test_extract_tasks_reads_a_task_with_a_long_run_of_spaces(stack: Stack, team: Team) -> None:
    transcript = "Alice: Action item: write the" + " " * 40_000 + "launch post so that we ship.\n"
    with stack.http(team.members["viewer"].token) as http:
        answer = http.post(
            "/functions/v1/assistant/extract-tasks",
            json={"project_id": team.project_id, "transcript": transcript},
        )
    assert answer.status_code == 200, answer.text
    task = answer.json()["tasks"][0]
    assert task["title"] == "Write the launch post"
    assert "Done when we ship" in task["acceptance_criteria"]


# --- the heading reader, in-process ----------------------------------------------------------
_OLD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


@given(st.integers(0, 8), st.text(alphabet="# \tab\u00a0\u2003x", max_size=14))
@settings(max_examples=500, deadline=None)
def test_the_linear_heading_reader_answers_as_the_old_pattern(hashes: int, tail: str) -> None:
    from core.docsections import heading

    line = "#" * hashes + tail
    old = _OLD_HEADING.match(line)
    expected = (len(old.group(1)), old.group(2).strip()) if old else None
    assert heading(line) == expected
