"""The "RLS cost at scale" section of bench/README.md (other sections are left alone)."""

from __future__ import annotations

import re
from pathlib import Path

from bench.rls_bench import ListResult

README = Path(__file__).with_name("README.md")
HEADING = "## RLS cost at scale"
GOAL = 0.8  # member req/s at least 0.8 x bypass, i.e. within 1.25x of its time


def section(
    results: list[ListResult],
    *,
    counts: dict[str, int],
    machine: str,
    settings: str,
    when: str,
    command: str,
    notes: str = "",
) -> str:
    rows = [
        "| list | rows | RLS req/s | bypass req/s | ratio | goal | index used (RLS plan) |",
        "|---|---:|---:|---:|---:|:---:|---|",
    ]
    for r in results:
        ok = r.ratio >= GOAL and r.mismatches == 0 and r.rls.errors == 0 and r.bypass.errors == 0
        index = ", ".join(f"`{i}`" for i in r.rls_indexes) or "none"
        if r.rls_seq_scans:
            index += " + **seq scan**"
        rows.append(
            f"| {r.spec.title} | {r.rows:.0f} | {r.rls.rps:,.0f} | {r.bypass.rps:,.0f} "
            f"| {r.ratio:.2f} | {'yes' if ok else '**no**'} | {index} |"
        )
    problems = [
        f"- {r.spec.title}: {r.mismatches} member(s) got other rows than the bypass query; "
        f"{r.rls.errors} RLS and {r.bypass.errors} bypass errors"
        for r in results
        if r.mismatches or r.rls.errors or r.bypass.errors
    ]
    scale = ", ".join(f"{n:,} {t.split('.')[-1]}" for t, n in counts.items())
    lines = [
        HEADING,
        "",
        f"Measured {when} with `{command}` on {machine}.",
        "",
        f"Scale: {scale}.",
        "",
        f"Load: {settings}. Each list is fetched through PostgREST 12 over HTTP as a member "
        "(a real user JWT; RLS decides) and, as the service role (RLS bypassed), with the "
        "filter the policy implies written out (`project_id=in.(<the member's live "
        "projects>)`, `deleted_at=is.null`, ...). Before timing, every member's rows are "
        "fetched both ways and compared (they must be the same rows). Ratio = RLS req/s / "
        f"bypass req/s, measured in the same run; the goal is >= {GOAL} (within 1.25x).",
        "",
        *rows,
        "",
        *(["Problems:", "", *problems, ""] if problems else []),
        "Plans (`explain (analyze, buffers)` as PostgREST runs each query, via its plan media "
        "type; for `search_messages` also the statement inside the function, via "
        "auto_explain) are in [`plans/`](plans/).",
        "",
    ]
    if notes:
        lines += [notes.strip(), ""]
    return "\n".join(lines)


def write(text: str, readme: Path = README) -> None:
    """Replace the section (up to the next ``## `` heading) or put it first."""
    if not readme.exists():
        readme.write_text("# Benchmarks\n\n" + text)
        return
    current = readme.read_text()
    pattern = re.compile(rf"^{re.escape(HEADING)}\n.*?(?=^## |\Z)", re.M | re.S)
    if pattern.search(current):
        updated = pattern.sub(lambda _: text, current, count=1)
    else:
        first = re.search(r"^## ", current, re.M)
        at = first.start() if first else len(current)
        updated = current[:at] + text + ("\n" if first else "") + current[at:]
    readme.write_text(updated)


# What the figures led to; kept with the table on every run.
NOTES = ""
