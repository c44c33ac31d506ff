"""Recovery: parts of this session's own stack are restarted in the middle of traffic.

While PostgREST or Postgres restarts, the functions answer 503 with Retry-After (never a
500) and serve again by themselves once it is back; document jobs queued meanwhile are all
generated (none lost) and none twice (one version per job, one success each). The counts
are asserted, never a duration.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from devstack import postgres, postgrest
from tests.functions.conftest import new_project, upload_request
from tests.support import Stack, TestUser

WORKERS = 3


@dataclass
class Traffic:
    statuses: Counter[int] = field(default_factory=Counter)
    bad: list[str] = field(default_factory=list)  # answers that break the contract
    job_ids: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, response: httpx.Response | None, error: str | None = None) -> None:
        with self.lock:
            if response is None:
                self.bad.append(f"no answer: {error}")
                return
            self.statuses[response.status_code] += 1
            if response.status_code == 503:
                body = response.json()
                if set(body) != {"error", "message", "request_id"}:
                    self.bad.append(f"503 body {body}")
                if not response.headers.get("retry-after", "").isdigit():
                    self.bad.append("503 without Retry-After")
            elif response.status_code >= 300:
                self.bad.append(f"{response.status_code}: {response.text[:200]}")


@dataclass
class Member:
    user: TestUser
    project_id: str


@pytest.fixture
def members(stack: Stack) -> list[Member]:
    # the per-user limits (60 requests and 60 files a minute) are spread over many users
    found = []
    for _ in range(12):
        user = stack.new_user()
        found.append(Member(user, new_project(stack, user, "Recovery")))
    return found


def _upload(stack: Stack, member: Member, traffic: Traffic) -> None:
    body = upload_request(member.project_id, f"r-{uuid.uuid4()}".encode())
    try:
        with stack.http(member.user.token) as http:
            traffic.record(http.post("/functions/v1/files/uploads", json=body))
    except httpx.HTTPError as exc:
        traffic.record(None, repr(exc))


def _generate(stack: Stack, member: Member, traffic: Traffic) -> None:
    body = {"project_id": member.project_id, "document_type": "prd"}
    try:
        with stack.http(member.user.token) as http:
            response = http.post("/functions/v1/documents/generate", json=body)
    except httpx.HTTPError as exc:
        traffic.record(None, repr(exc))
        return
    traffic.record(response)
    if response.status_code == 202:
        with traffic.lock:
            traffic.job_ids.append(response.json()["job_id"])


def _during(
    stack: Stack,
    members: list[Member],
    request: Callable[[Stack, Member, Traffic], None],
    restart: Callable[[], None],
    before: int = 6,
    after: int = 12,
) -> Traffic:
    """Requests from WORKERS threads before, during and after ``restart``."""
    traffic = Traffic()
    stop = threading.Event()
    turn = iter(range(10**9))

    def loop() -> None:
        while not stop.is_set():
            request(stack, members[next(turn) % len(members)], traffic)
            time.sleep(0.05)

    with ThreadPoolExecutor(WORKERS) as pool:
        for _ in range(WORKERS):
            pool.submit(loop)
        while sum(traffic.statuses.values()) < before:
            time.sleep(0.05)
        restart()
        served = sum(traffic.statuses.values())
        deadline = time.monotonic() + 120  # bounded: the parts are back within seconds
        while time.monotonic() < deadline:
            ok_since = sum(n for s, n in traffic.statuses.items() if s < 300)
            if sum(traffic.statuses.values()) >= served + after and ok_since > before:
                break
            time.sleep(0.1)
        stop.set()
    return traffic


def _wait_healthy(stack: Stack) -> None:
    for _ in range(240):
        try:
            if stack.http().get("/functions/v1/health").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError("the stack did not become healthy again")


def _restart_postgrest(stack: Stack) -> Callable[[], None]:
    def restart() -> None:
        postgrest.stop(stack.cfg)
        time.sleep(1.0)  # traffic meets the gap
        postgrest.start(stack.cfg)

    return restart


def _restart_postgres(stack: Stack) -> Callable[[], None]:
    def restart() -> None:
        postgres.stop(stack.cfg)
        time.sleep(1.0)
        postgres.start(stack.cfg)

    return restart


@pytest.fixture
def healthy_after(stack: Stack) -> Iterator[None]:
    yield
    # whatever happened, the next test finds every part running
    if postgres.running_pid(stack.cfg) is None:
        postgres.start(stack.cfg)
    if postgrest.running_pid(stack.cfg) is None:
        postgrest.start(stack.cfg)
    _wait_healthy(stack)


def _assert_only_503s_and_recovered(traffic: Traffic, last: httpx.Response) -> None:
    assert traffic.bad == [], traffic.bad[:10]
    assert set(traffic.statuses) <= {200, 201, 202, 503}, traffic.statuses
    assert last.status_code < 300, last.text


def test_uploads_answer_503_while_postgrest_restarts_and_recover(
    stack: Stack, members: list[Member], healthy_after: None
):
    traffic = _during(stack, members, _upload, _restart_postgrest(stack))
    _wait_healthy(stack)
    last = sign(stack, members[0])
    _assert_only_503s_and_recovered(traffic, last)


def test_uploads_answer_503_while_postgres_restarts_and_recover(
    stack: Stack, members: list[Member], healthy_after: None
):
    traffic = _during(stack, members, _upload, _restart_postgres(stack))
    _wait_healthy(stack)
    last = sign(stack, members[1])
    _assert_only_503s_and_recovered(traffic, last)


def sign(stack: Stack, member: Member) -> httpx.Response:
    body = upload_request(member.project_id, b"after the restart")
    with stack.http(member.user.token) as http:
        return http.post("/functions/v1/files/uploads", json=body)


@pytest.mark.parametrize("part", ["postgrest", "postgres"])
def test_document_jobs_queued_across_a_restart_all_run_once(
    stack: Stack, members: list[Member], healthy_after: None, part: str
):
    restart = _restart_postgrest(stack) if part == "postgrest" else _restart_postgres(stack)
    traffic = _during(stack, members, _generate, restart, before=3, after=6)
    _wait_healthy(stack)
    assert traffic.bad == [], traffic.bad[:10]
    assert set(traffic.statuses) <= {202, 503}, traffic.statuses
    jobs = traffic.job_ids
    assert jobs, "no job was accepted"
    rows: list[dict[str, Any]] = []
    for _ in range(240):  # the event host's worker, retries after visibility timeouts
        rows = stack.sql(
            "select j.id, j.status, j.attempts, j.error,"
            " (select count(*) from public.document_versions v where v.job_id = j.id) as versions"
            " from public.document_jobs j where j.id = any(%s::uuid[])",
            (jobs,),
        )
        if all(r["status"] in ("succeeded", "failed") for r in rows):
            break
        time.sleep(0.5)
    lost = [r for r in rows if r["status"] != "succeeded"]
    twice = [r for r in rows if r["versions"] != 1]
    assert len(rows) == len(jobs)
    assert lost == [], f"{len(lost)} of {len(jobs)} jobs not generated: {lost[:3]}"
    assert twice == [], f"jobs with more than one version: {twice[:3]}"
