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
        "| list | rows | RLS req/s | bypass req/s | ratio | goal | in Postgres, ms: RLS / "
        "bypass | index used (RLS plan) |",
        "|---|---:|---:|---:|---:|:---:|---:|---|",
    ]
    for r in results:
        ok = r.ratio >= GOAL and r.mismatches == 0 and r.rls.errors == 0 and r.bypass.errors == 0
        index = ", ".join(f"`{i}`" for i in r.rls_indexes) or "none"
        if r.rls_seq_scans:
            index += " + **seq scan**"
        rows.append(
            f"| {r.spec.title} | {r.rows:.0f} | {r.rls.rps:,.0f} | {r.bypass.rps:,.0f} "
            f"| {r.ratio:.2f} | {'yes' if ok else '**no**'} | {_ms(r.rls_timing)} / "
            f"{_ms(r.bypass_timing)} | {index} |"
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
        f"bypass req/s, measured in the same run; the goal is >= {GOAL} (within 1.25x). "
        '"In Postgres" is the median `transaction` phase of PostgREST\'s Server-Timing '
        "header, requests sent one at a time: the database's share of a request, where RLS "
        "costs.",
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


def _ms(timing: dict[str, float]) -> str:
    return f"{timing['transaction']:.2f}" if "transaction" in timing else "?"


def write(text: str, readme: Path = README, heading: str = HEADING) -> None:
    """Replace the section under ``heading`` (up to the next ``## `` heading), or add it
    after the others."""
    if not readme.exists():
        readme.write_text("# Benchmarks\n\n" + text)
        return
    current = readme.read_text()
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.M | re.S)
    if pattern.search(current):
        updated = pattern.sub(lambda _: text.rstrip("\n") + "\n\n", current, count=1)
    else:
        updated = current.rstrip("\n") + "\n\n" + text
    readme.write_text(updated.rstrip("\n") + "\n")


# What the figures led to; kept with the table on every run.
NOTES = """
What the figures say, and what they led to:

- The policies cost a fixed amount per request, not per row: the helpers run once per
  statement, as init plans, and the rest is an index condition. That is the difference
  between the two "in Postgres" figures of the single-index lists (a project's tasks, a
  conversation's messages), and it does not grow with the tables. Lists that do more work
  hide it (my tasks across projects, tasks assigned to me).
- That fixed cost was two security definer calls per list (`private.is_active_user()` and
  `my_project_ids()` or `my_conversation_ids()`), each switching user and search_path and
  running its own query, and each parsing the token's claims (JSON) in `auth.uid()`. Now
  (`supabase/schemas/projects.sql`, `chat.sql`) the two
  membership helpers return nothing for a disabled user, so the task, message and file list
  policies call one helper; and the per-user request cap (`db-pre-request`
  `private.limit_concurrent_requests()`, run before every request on both sides; it returns
  at once for the service role) parses the claims once and sets `request.jwt.claim.sub`,
  which `auth.uid()` reads before parsing anything. `BENCH_REQUEST_LIMITS=0` runs the bench
  without the hook, to price it.
- Before PostgREST's JWT cache was turned on (`jwt-cache-max-lifetime`, devstack/postgrest.py),
  decoding a user's token cost more than the policies did: PostgREST's `jwt` phase was about
  0.29 ms for a user's token against 0.16 ms for the shorter service-role key, and a project's
  tasks and a conversation's messages both measured 0.76. With the cache a token is decoded
  once, on both sides.
- The helpers are PL/pgSQL so their plans are cached per connection (a `language sql`
  security definer function is re-planned on every call); see
  `supabase/schemas/projects.sql`.
- Message search is faster as a member because the two sides are different queries: the RPC
  looks only at the caller's conversations, while the bypass side is the plain PostgREST
  full-text filter, which the planner answers by intersecting the GIN index's matches for the
  word across all messages with the conversation index (see `plans/message_search.txt`).
"""
