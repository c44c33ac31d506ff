"""Per list: same rows both ways, req/s as member vs. bypass, and the plans."""

from __future__ import annotations

import json
import os
import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

from bench import load
from bench.lists import ListSpec, Member

PLAN_ACCEPT = "application/vnd.pgrst.plan+text; options=analyze|buffers"
# BENCH_PLANS_DIR: elsewhere (bench/smoke.py), so a tiny run never overwrites the real plans
PLANS_DIR = Path(os.environ.get("BENCH_PLANS_DIR") or Path(__file__).with_name("plans"))


@dataclass
class ListResult:
    spec: ListSpec
    rls: load.Result
    bypass: load.Result
    rows: float  # average rows per response
    mismatches: int  # members whose RLS rows differ from the bypass rows
    rls_indexes: list[str] = field(default_factory=list)
    rls_seq_scans: list[str] = field(default_factory=list)
    rls_timing: dict[str, float] = field(default_factory=dict)  # median ms per phase
    bypass_timing: dict[str, float] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.rls.rps / self.bypass.rps if self.bypass.rps else 0.0


def _ids(resp: httpx.Response) -> set[str]:
    resp.raise_for_status()
    return {row["id"] for row in resp.json()}


def compare_rows(
    base_url: str, spec: ListSpec, members: list[Member], secret: str, service_key: str
) -> tuple[float, int]:
    """Fetch each member's list both ways: (average rows, members whose rows differ)."""
    total = 0
    mismatches = 0
    with httpx.Client(base_url=base_url, timeout=60.0) as client:
        for m in members:
            mine = _ids(client.get(spec.as_member(m), headers=_auth(m.token(secret))))
            bypass = _ids(client.get(spec.bypass(m), headers=_auth(service_key)))
            total += len(mine)
            mismatches += mine != bypass
    return total / len(members), mismatches


TIMING_RE = re.compile(r"(\w+);dur=([\d.]+)")


def server_timings(
    base_url: str,
    spec: ListSpec,
    members: list[Member],
    secret: str,
    service_key: str,
    per_member: int = 6,
) -> tuple[dict[str, float], dict[str, float]]:
    """Median of each phase PostgREST reports in its Server-Timing header (jwt, parse, plan,
    transaction, response), in ms, one request at a time: (as member, bypass).
    ``transaction`` is the time spent in Postgres, which is where RLS costs.
    PostgREST 12 writes microseconds in ``dur`` (the phases add up to the request's wall time
    only when read so), hence the division."""
    samples: dict[str, dict[str, list[float]]] = {"rls": {}, "bypass": {}}
    with httpx.Client(base_url=base_url, timeout=60.0) as client:
        for _ in range(per_member):
            for m in members:
                for side, path, token in (
                    ("rls", spec.as_member(m), m.token(secret)),
                    ("bypass", spec.bypass(m), service_key),
                ):
                    header = client.get(path, headers=_auth(token)).headers.get("server-timing")
                    for phase, dur in TIMING_RE.findall(header or ""):
                        samples[side].setdefault(phase, []).append(float(dur) / 1000)
    medians = {
        side: {phase: statistics.median(v) for phase, v in phases.items()}
        for side, phases in samples.items()
    }
    return medians["rls"], medians["bypass"]


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def measure(
    base_url: str,
    spec: ListSpec,
    members: list[Member],
    *,
    secret: str,
    service_key: str,
    seconds: float,
    rounds: int,
    connections: int,
    wrk: str | None,
    say: Callable[[str], None] = print,
) -> tuple[load.Result, load.Result]:
    """Alternate bypass and member runs (``rounds`` each, ``seconds`` long) after a short
    warm-up, so drift from other work on the machine hits both sides alike."""
    as_member = [load.Request(spec.as_member(m), m.token(secret)) for m in members]
    bypass = [load.Request(spec.bypass(m), service_key) for m in members]
    for reqs in (bypass, as_member):
        load.run(base_url, reqs, seconds=2, connections=connections, wrk=wrk)
    totals: dict[str, list[load.Result]] = {"bypass": [], "rls": []}
    for n in range(rounds):
        for name, reqs in (("bypass", bypass), ("rls", as_member)):
            result = load.run(base_url, reqs, seconds=seconds, connections=connections, wrk=wrk)
            totals[name].append(result)
            say(f"  {spec.key} round {n + 1} {name}: {result.rps:,.0f} req/s")
    return _sum(totals["rls"]), _sum(totals["bypass"])


def _sum(results: list[load.Result]) -> load.Result:
    return load.Result(
        sum(r.requests for r in results),
        sum(r.seconds for r in results),
        sum(r.errors for r in results),
    )


# -- plans ----------------------------------------------------------------------------------

INDEX_RE = re.compile(r"(?:Index(?: Only)? Scan(?: Backward)? using|Bitmap Index Scan on) (\w+)")
SEQ_RE = re.compile(r"Seq Scan on (\w+)")


def postgrest_plan(base_url: str, path: str, token: str) -> str:
    """``explain (analyze, buffers)`` of the query exactly as PostgREST runs it (same SQL,
    same role and claims), via PostgREST's plan media type (db-plan-enabled)."""
    resp = httpx.get(base_url + path, headers={**_auth(token), "Accept": PLAN_ACCEPT}, timeout=60.0)
    resp.raise_for_status()
    return resp.text


def nested_plan(db_url: str, member: Member, sql: str, params: tuple[object, ...]) -> str:
    """The plans of the statements a function runs (search_messages is plpgsql, so
    PostgREST's plan only shows a Function Scan), via auto_explain, as the member: role
    authenticated and the JWT claims set in the transaction, as PostgREST does."""
    notices: list[str] = []
    claims = json.dumps({"sub": member.id, "role": "authenticated", "email": member.email})
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
        conn.execute("load 'auto_explain'")
        for name, value in (
            ("log_min_duration", "0"), ("log_analyze", "on"), ("log_buffers", "on"),
            ("log_nested_statements", "on"), ("log_level", "notice"), ("log_format", "text"),
        ):  # fmt: skip
            conn.execute(f"set auto_explain.{name} = {value}")  # type: ignore[arg-type]
        with conn.transaction():
            conn.execute("set local role authenticated")
            conn.execute("select set_config('request.jwt.claims', %s, true)", (claims,))
            conn.execute(sql, params)  # type: ignore[arg-type]
    return "\n\n".join(notices)


def index_summary(plan: str, table: str) -> tuple[list[str], list[str]]:
    """Indexes of ``table`` the plan uses, and any sequential scan of it."""
    indexes = sorted({i for i in INDEX_RE.findall(plan) if i.startswith(table + "_")})
    seqs = sorted({s for s in SEQ_RE.findall(plan) if s == table})
    return indexes, seqs


def write_plans(
    base_url: str,
    db_url: str,
    spec: ListSpec,
    member: Member,
    *,
    secret: str,
    service_key: str,
) -> tuple[list[str], list[str]]:
    rls = postgrest_plan(base_url, spec.as_member(member), member.token(secret))
    bypass = postgrest_plan(base_url, spec.bypass(member), service_key)
    parts = [
        f"-- {spec.title}: plans as PostgREST runs them (explain analyze, buffers)",
        f"-- member {member.id}, {len(member.project_ids)} live projects, "
        f"{len(member.conversation_ids)} conversations",
        "",
        f"== as the member (RLS): GET {spec.as_member(member)}",
        rls.strip(),
    ]
    analysed = rls
    if spec.key == "message_search":
        inner = nested_plan(
            db_url, member, "select * from public.search_messages(%s)", (member.word,)
        )
        parts += ["", "== inside search_messages, as the member (auto_explain)", inner.strip()]
        analysed = inner
    parts += ["", f"== bypass (service role): GET {spec.bypass(member)}", bypass.strip(), ""]
    PLANS_DIR.mkdir(exist_ok=True)
    (PLANS_DIR / f"{spec.key}.txt").write_text("\n".join(parts))
    return index_summary(analysed, spec.table)
