"""The local stack runs every schedule of serverless.yml at its rate (devstack/schedules.py).

The session fixture holds the schedules paused (tests/conftest.py); the stack tests here
lift that hold for their own duration (``schedules_running``) and pause them again after.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from devstack import events, schedules
from tests.support import Stack

ROOT = Path(__file__).resolve().parents[2]


def _serverless_schedules() -> list[tuple[str, str]]:
    config = yaml.safe_load((ROOT / "serverless.yml").read_text())
    found = []
    for function in config["functions"].values():
        for event in function.get("events", []):
            if "schedule" in event:
                found.append((function["handler"].replace("/", "."), event["schedule"]["rate"]))
    return found


# --- in step with serverless.yml --------------------------------------------------------------
def test_every_schedule_of_serverless_yml_is_run_locally_at_its_rate():
    local = [(s.handler, s.expression) for s in schedules.load()]
    assert sorted(local) == sorted(_serverless_schedules())
    assert local, "serverless.yml has no schedules?"
    names = [s.name for s in schedules.load()]
    assert len(names) == len(set(names))
    # `make invoke FN=<name>` knows the same ones
    assert {s.name: s.handler for s in schedules.load()} == events.SCHEDULES


def test_every_schedule_handler_imports(functions_env: dict[str, str]):
    for schedule in schedules.load():
        assert callable(events.load_handler(schedule.handler)), schedule.name


def test_a_schedule_added_to_serverless_yml_is_picked_up(tmp_path: Path):
    config = yaml.safe_load((ROOT / "serverless.yml").read_text())
    config["functions"]["reportsNightly"] = {
        "handler": "reports/events.nightly",
        "events": [{"schedule": {"rate": "cron(0 2 * * ? *)"}}],
    }
    path = tmp_path / "serverless.yml"
    path.write_text(yaml.safe_dump(config))
    [added] = [s for s in schedules.load(path) if s.function == "reportsNightly"]
    assert (added.name, added.handler) == ("reports-nightly", "reports.events.nightly")


@pytest.mark.parametrize(
    "expression, seconds",
    [
        ("rate(1 minute)", 60),
        ("rate(15 minutes)", 900),
        ("rate(2 hours)", 7200),
        ("rate(1 day)", 86400),
    ],
)
def test_rates(expression: str, seconds: int):
    assert schedules.Schedule("x", "f", "m.h", expression).interval_s == seconds


@pytest.mark.parametrize(
    "expression, after, expected",
    [
        ("cron(30 3 * * ? *)", "2026-12-04T03:29:59", "2026-12-04T03:30:00"),
        ("cron(30 3 * * ? *)", "2026-12-04T03:30:00", "2026-12-05T03:30:00"),
        ("cron(0/15 * * * ? *)", "2026-12-04T10:16:00", "2026-12-04T10:30:00"),
        ("cron(0 9 ? * MON-FRI *)", "2026-12-04T09:00:00", "2026-12-07T09:00:00"),  # Fri -> Mon
        ("cron(0 0 1 JAN ? 2027)", "2026-12-04T00:00:00", "2027-01-01T00:00:00"),
    ],
)
def test_cron_expressions_follow_eventbridge(expression: str, after: str, expected: str):
    schedule = schedules.Schedule("x", "f", "m.h", expression)
    moment = datetime.fromisoformat(after).replace(tzinfo=UTC)
    assert schedule.next_after(moment) == datetime.fromisoformat(expected).replace(tzinfo=UTC)


@pytest.mark.parametrize("expression", ["rate(5 seconds)", "cron(0 12 L * ? *)", "every minute"])
def test_expressions_it_cannot_run_are_refused(expression: str):
    with pytest.raises(schedules.ScheduleError):
        schedules.Schedule("x", "f", "m.h", expression).validate()


# --- the pause switch and the runner (no stack) ----------------------------------------------
def test_pause_holders_manual_and_by_live_process(tmp_path: Path):
    assert not schedules.paused(tmp_path)
    schedules.pause(tmp_path)
    assert schedules.holders(tmp_path) == ["manual"]
    schedules.resume(tmp_path)
    assert not schedules.paused(tmp_path)
    with schedules.paused_while(tmp_path):
        assert schedules.holders(tmp_path) == [schedules.session_holder()]
    assert not schedules.paused(tmp_path)
    # a test session that died without resuming does not hold them forever
    schedules.pause(tmp_path, "pid-999999999")
    assert not schedules.paused(tmp_path)


def _run_briefly(tmp_path: Path, clock: list[datetime], steps: int) -> list[str]:
    calls: list[str] = []
    schedule = schedules.Schedule("tick", "f", "m.h", "rate(1 minute)")

    async def main() -> None:
        task = asyncio.ensure_future(
            schedules.run_schedule(
                schedule,
                lambda s: calls.append(s.name),
                tmp_path,
                now=lambda: clock[0],
                tick_s=0.01,
            )
        )
        for _ in range(steps):
            await asyncio.sleep(0.05)
            clock[0] += timedelta(seconds=61)
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    return calls


def test_the_runner_invokes_at_the_rate_and_skips_while_paused(tmp_path: Path):
    clock = [datetime(2026, 12, 4, 12, 0, tzinfo=UTC)]
    assert len(_run_briefly(tmp_path, clock, 3)) == 3
    schedules.pause(tmp_path)
    assert _run_briefly(tmp_path, clock, 3) == []


# --- on the stack: a job queued by an RPC alone is processed ----------------------------------
@pytest.fixture
def schedules_running(stack: Stack) -> Iterator[None]:
    """Lift this session's hold on the stack's schedules for one test."""
    state_dir = stack.cfg.state_dir
    holder = schedules.session_holder()
    schedules.resume(state_dir, holder)
    others = schedules.holders(state_dir)
    try:
        if others:
            pytest.skip(
                f"the stack's schedules are held paused by {others} (make schedules-resume)"
            )
        yield
    finally:
        schedules.pause(state_dir, holder)


def _job(stack: Stack, job_id: str) -> dict[str, Any]:
    return stack.sql("select * from public.document_jobs where id = %s", (job_id,))[0]


def test_a_document_job_queued_by_rpc_alone_is_generated_by_the_running_stack(
    stack: Stack, schedules_running: None
):
    """A frontend calls rpc/request_document_generation and nothing else: the one-minute
    dispatcher of `make up` sends the job and the worker writes the version. Nobody calls
    `make invoke`."""
    owner = stack.new_user()
    project = stack.rest(owner.token).table("projects").insert({"name": "Sched"}).execute()
    project_id = project.data[0]["id"]
    job_id = (
        stack.rest(owner.token)
        .rpc("request_document_generation", {"project_id": project_id, "document_type": "prd"})
        .execute()
        .data
    )
    # the dispatcher leaves a job younger than a minute to the endpoint that made it
    # (redispatch_after_s); age this one so the next tick (at most a minute away) sends it
    stack.sql(
        "update public.document_jobs set created_at = now() - interval '2 minutes' where id = %s",
        (job_id,),
    )
    assert _job(stack, job_id)["dispatched_at"] is None
    row: dict[str, Any] = {}
    deadline = time.monotonic() + 150  # one tick of rate(1 minute), plus the worker
    while time.monotonic() < deadline:
        row = _job(stack, job_id)
        if row["status"] in ("succeeded", "failed"):
            break
        time.sleep(1)
    assert row["status"] == "succeeded", row
    assert row["dispatched_at"] is not None and row["attempts"] == 1
    versions = stack.sql(
        "select count(*) as n from public.document_versions where job_id = %s", (job_id,)
    )
    assert versions == [{"n": 1}]


def test_the_session_holds_the_stack_schedules_paused(stack: Stack):
    assert schedules.session_holder() in schedules.holders(stack.cfg.state_dir)
