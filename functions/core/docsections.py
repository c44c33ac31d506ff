"""Project documents as sections: the sections each document type has, splitting Markdown
into sections, and the change summary between two versions (computed, never invented).

Shared by the documents worker (templates, change summaries) and the assistant (validation).
Standard library only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The sections of each generated document type, in order (the seeds' structure: 000_/004_
# backend structure documents; PRD and tech spec in the same numbered style).
SECTIONS: dict[str, tuple[str, ...]] = {
    "prd": (
        "Overview",
        "Problem and Goals",
        "Target Users and Roles",
        "Scope and Features",
        "Requirements",
        "Non-functional Requirements",
        "Milestones and Timeline",
        "Risks and Open Questions",
        "Success Metrics",
    ),
    "tech_spec": (
        "Introduction",
        "Architecture Overview",
        "Components",
        "Data Model",
        "API Design",
        "Security",
        "Testing Strategy",
        "Deployment and Operations",
        "Open Issues",
    ),
    "backend_structure": (
        "Backend Architecture",
        "Database Management",
        "Database Schema",
        "API Design and Endpoints",
        "Hosting Solutions",
        "Infrastructure Components",
        "Security Measures",
        "Monitoring and Maintenance",
        "Conclusion and Overall Backend Summary",
    ),
    "custom": (),
}

TITLES = {
    "prd": "Product Requirements Document",
    "tech_spec": "Technical Specification",
    "backend_structure": "Backend Structure Document",
    "custom": "Project Document",
}

_FENCE = re.compile(r"^\s*(```|~~~)")
_NUMBER = re.compile(r"^\d+(\.\d+)*\.?\s+")


@dataclass(frozen=True)
class Section:
    title: str  # as written, e.g. "1. Backend Architecture"
    level: int
    line: int  # 1-based line of the heading (0: the preamble before the first heading)
    body: str

    @property
    def key(self) -> str:
        """The title without its number, lowercased: "1. Overview" ~ "Overview"."""
        return normalise_title(self.title)


def normalise_title(title: str) -> str:
    return _NUMBER.sub("", title.strip()).strip().lower()


def heading(line: str) -> tuple[int, str] | None:
    """(level, title) of an ATX heading line (``## Title ##``), else None. The same answers as
    the pattern ``^(#{1,6})\\s+(.+?)\\s*#*\\s*$``, in linear time: that pattern backtracks
    cubically on a heading followed by a long run of spaces."""
    rest = line.lstrip("#")
    level = len(line) - len(rest)
    if not 1 <= level <= 6 or not rest[:1].isspace():
        return None
    text = rest.lstrip()
    if not text:  # only whitespace: the pattern needs one character of it for the title
        return (level, "") if len(rest) >= 2 else None
    # the title is what is left once trailing whitespace, closing #s and whitespace go,
    # at least one character
    kept = len(text.rstrip().rstrip("#").rstrip())
    return level, text[: max(1, kept)].strip()


def split_sections(markdown: str, level: int = 2) -> list[Section]:
    """The document's sections at heading ``level`` (## by default); headings inside fenced
    code are not headings. Deeper headings stay in their section's body."""
    sections: list[Section] = []
    title, start, body = "", 0, []
    in_fence = False
    for number, line in enumerate(markdown.splitlines(), start=1):
        if _FENCE.match(line):
            in_fence = not in_fence
        found = None if in_fence else heading(line)
        if found and found[0] == level:
            if title or any(b.strip() for b in body):
                sections.append(Section(title, level, start, "\n".join(body).strip()))
            title, start, body = found[1], number, []
        else:
            body.append(line)
    if title or any(b.strip() for b in body):
        sections.append(Section(title, level, start, "\n".join(body).strip()))
    return sections


def _comparable(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def change_summary(previous: str | None, current: str, limit: int = 1000) -> str:
    """What changed between two versions, by section: added, removed, changed."""
    now = [s for s in split_sections(current) if s.title]
    if previous is None:
        names = ", ".join(s.title for s in now)
        text = f"First version: {len(now)} sections" + (f" ({names})" if names else "")
        return _clip(text, limit)
    before = {s.key: s for s in split_sections(previous) if s.title}
    after = {s.key: s for s in now}
    added = [after[k].title for k in after if k not in before]
    removed = [before[k].title for k in before if k not in after]
    changed = [
        after[k].title
        for k in after
        if k in before and _comparable(after[k].body) != _comparable(before[k].body)
    ]
    parts = []
    if added:
        parts.append(f"{len(added)} added ({', '.join(added)})")
    if removed:
        parts.append(f"{len(removed)} removed ({', '.join(removed)})")
    if changed:
        parts.append(f"{len(changed)} changed ({', '.join(changed)})")
    if not parts:
        preamble_changed = _comparable(previous) != _comparable(current)
        return "No section changed" + (
            " (text outside sections changed)" if preamble_changed else ""
        )
    return _clip("Sections: " + "; ".join(parts), limit)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
