"""The job pipeline itself (functions/core/jobs.py) over moto SQS and the real PostgREST.

Each test has its own queue (with a DLQ and a redrive policy, as in serverless.yml) and its
own job kind on the ``document_jobs`` table; its jobs are real rows queued through
``request_document_generation`` as a project editor. The test drives the queue the way the
event source mapping does: receive, invoke the worker, delete what it did not report.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from tests.functions.conftest import Team
from tests.support import Stack


@dataclass
class TestQueue:
    __test__ = False

    url: str
    dlq_url: str
    arn: str
    sqs: Any
    setting: str

    def receive(self, url: str | None = None, wait: int = 0) -> list[dict[str, Any]]:
        answer = self.sqs.receive_message(
            QueueUrl=url or self.url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=wait,
            AttributeNames=["All"],
        )
        return answer.get("Messages", [])


@pytest.fixture
def queue(functions_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[TestQueue]:
    import boto3

    sqs = boto3.client(
        "sqs",
        endpoint_url=functions_env["AWS_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    name = f"test-jobs-{uuid.uuid4().hex[:10]}"
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": "1",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3}),
        },
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    setting = f"TEST_JOBS_{uuid.uuid4().hex[:8].upper()}_QUEUE_URL"
    monkeypatch.setenv(setting, url)
    yield TestQueue(url, dlq_url, arn, sqs, setting)
    sqs.delete_queue(QueueUrl=url)
    sqs.delete_queue(QueueUrl=dlq_url)


def make_kind(queue: TestQueue, **overrides: Any) -> Any:
    from core.jobs import JobKind

    return JobKind(
        name=f"test_{uuid.uuid4().hex[:8]}",
        table="document_jobs",
        queue_url_setting=queue.setting,
        **{"max_attempts": 3, **overrides},
    )


_made: list[str] = []


@pytest.fixture(autouse=True)
def _finish_leftover_jobs(stack: Stack) -> Iterator[None]:
    """Jobs these tests leave queued are nobody's: fail them, so the next dispatcher run (of
    this or another test, real or not) does not carry them around."""
    yield
    if _made:
        stack.sql(
            "update public.document_jobs set status = 'failed', error = 'test over'"
            " where id = any(%s::uuid[]) and status in ('queued', 'running')",
            (list(_made),),
        )
        _made.clear()


def new_job(stack: Stack, team: Team) -> str:
    editor = stack.rest(team.members["editor"].token)
    body = {"project_id": team.project_id, "document_type": "prd"}
    job_id = editor.rpc("request_document_generation", body).execute().data
    _made.append(job_id)
    return job_id


def dispatched(settings: Any, kind: Any, job_id: str, now: datetime) -> bool:
    """Whether ``dispatch`` at ``now`` sends the job, paging through older waiting jobs (the
    stack's database keeps other tests' jobs; each run takes the oldest ``limit``)."""
    from core.jobs import dispatch

    for _ in range(100):
        result = dispatch(settings, kind, now=now)
        if job_id in result.sent:
            return True
        if not result.sent:
            return False
    return False


def job_row(stack: Stack, job_id: str) -> dict[str, Any]:
    return stack.sql("select * from public.document_jobs where id = %s", (job_id,))[0]


def deliver(
    queue: TestQueue,
    handlers: dict[str, Any],
    job_ids: set[str],
    rounds: int = 1,
    wait: int = 0,
) -> list[dict[str, Any]]:
    """Receive from the test queue and run the worker on the test's own messages, as the
    event source mapping does (delete what was not reported failed); return the answers."""
    from core.jobs import run_sqs_batch
    from devstack.events import LambdaContext, sqs_event

    answers = []
    done = 0
    for _ in range(rounds + 100):  # bounded: rounds that hold the test's messages, plus drains
        if done == rounds:
            break
        received = queue.receive(wait=wait)
        messages = [m for m in received if json.loads(m["Body"])["job_id"] in job_ids]
        # The queue is this test's own, but a dispatch run also sends the other queued jobs the
        # stack's database keeps from earlier runs: drop those, or they bury the test's messages.
        for m in received:
            if m not in messages:
                queue.sqs.delete_message(QueueUrl=queue.url, ReceiptHandle=m["ReceiptHandle"])
        if not messages:
            if not received:
                done += 1
            continue
        done += 1
        answer = run_sqs_batch(
            sqs_event(messages, queue.arn, "us-east-1"),
            LambdaContext("test-worker", str(uuid.uuid4())),
            handlers,
            function="tests.jobs",
        )
        answers.append(answer)
        failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
        for m in messages:
            if m["MessageId"] not in failed:
                queue.sqs.delete_message(QueueUrl=queue.url, ReceiptHandle=m["ReceiptHandle"])
    return answers


@pytest.fixture
def settings(make_settings: Callable[..., Any]) -> Any:
    return make_settings()


def test_a_job_sent_twice_runs_once(stack: Stack, team: Team, queue: TestQueue, settings: Any):
    from core.jobs import send

    kind = make_kind(queue)
    job_id = new_job(stack, team)
    runs: list[int] = []

    def handler(job: Any) -> dict[str, Any]:
        runs.append(job.attempt)
        return {"version": 7}

    send(settings, kind, job_id)
    send(settings, kind, job_id)
    answers = deliver(queue, {kind.name: (kind, handler)}, {job_id}, rounds=3)

    assert runs == [1], "a duplicated message must not run the job a second time"
    assert all(a["batchItemFailures"] == [] for a in answers), "duplicates are acknowledged"
    row = job_row(stack, job_id)
    assert (row["status"], row["attempts"], row["version"], row["error"]) == (
        "succeeded",
        1,
        7,
        None,
    )
    assert row["finished_at"] >= row["started_at"]


def test_the_same_message_twice_in_one_batch_runs_once(
    stack: Stack, team: Team, queue: TestQueue, settings: Any
):
    from core.jobs import run_sqs_batch
    from devstack.events import LambdaContext, sqs_event

    kind = make_kind(queue)
    job_id = new_job(stack, team)
    runs: list[str] = []
    body = json.dumps({"kind": kind.name, "job_id": job_id})
    messages = [
        {"MessageId": str(uuid.uuid4()), "ReceiptHandle": "r", "Body": body} for _ in range(2)
    ]
    answer = run_sqs_batch(
        sqs_event(messages, queue.arn, "us-east-1"),
        LambdaContext("test-worker", "r1"),
        {kind.name: (kind, lambda job: runs.append(job.id))},
        function="tests.jobs",
    )
    assert answer == {"batchItemFailures": []}
    assert runs == [job_id]


def test_a_retryable_failure_runs_again_and_then_succeeds(
    stack: Stack, team: Team, queue: TestQueue, settings: Any
):
    from core.jobs import RetryableJobError, send

    kind = make_kind(queue)
    job_id = new_job(stack, team)
    seen: list[tuple[int, str]] = []

    def handler(job: Any) -> None:
        seen.append((job.attempt, job.row["status"]))
        if job.attempt == 1:
            raise RetryableJobError("the provider is busy", fields={"providers": [{"p": 1}]})

    send(settings, kind, job_id)
    first = deliver(queue, {kind.name: (kind, handler)}, {job_id})
    assert len(first[0]["batchItemFailures"]) == 1, "a retryable failure fails its record"
    row = job_row(stack, job_id)
    assert (row["status"], row["attempts"], row["providers"]) == ("queued", 1, [{"p": 1}])
    assert "the provider is busy" in row["error"]
    assert row["dispatched_at"] is not None, "SQS redelivers it: the dispatcher must not add a copy"
    # an old job (so only the dispatched_at rule can hold it back), 30 s after the retry
    stack.sql(
        "update public.document_jobs set created_at = created_at - interval '1 hour' where id = %s",
        (job_id,),
    )
    assert not dispatched(settings, kind, job_id, row["dispatched_at"] + timedelta(seconds=30))

    deliver(queue, {kind.name: (kind, handler)}, {job_id}, rounds=3, wait=2)
    assert seen == [(1, "running"), (2, "running")]
    row = job_row(stack, job_id)
    assert (row["status"], row["attempts"], row["error"]) == ("succeeded", 2, None)


def test_a_job_that_keeps_failing_ends_failed_and_its_message_in_the_dlq(
    stack: Stack, team: Team, queue: TestQueue, settings: Any
):
    from core.jobs import send

    kind = make_kind(queue, max_attempts=2)
    job_id = new_job(stack, team)
    runs: list[int] = []

    def handler(job: Any) -> None:
        runs.append(job.attempt)
        raise RuntimeError("secret internal detail")

    send(settings, kind, job_id)
    dead: list[dict[str, Any]] = []
    for _ in range(12):
        deliver(queue, {kind.name: (kind, handler)}, {job_id}, wait=1)
        dead = queue.receive(queue.dlq_url)
        if dead:
            break
    assert runs == [1, 2], "the handler runs max_attempts times, not more"
    row = job_row(stack, job_id)
    assert (row["status"], row["attempts"]) == ("failed", 2)
    assert row["error"] == "the job failed unexpectedly (gave up after 2 attempts)"
    assert "secret" not in row["error"], "members read the error: no internals"
    assert [json.loads(m["Body"])["job_id"] for m in dead] == [job_id], "the message is in the DLQ"


def test_a_permanent_failure_fails_the_job_at_once(
    stack: Stack, team: Team, queue: TestQueue, settings: Any
):
    from core.jobs import PermanentJobError, send

    kind = make_kind(queue)
    job_id = new_job(stack, team)

    def handler(job: Any) -> None:
        raise PermanentJobError("the document was deleted")

    send(settings, kind, job_id)
    answers = deliver(queue, {kind.name: (kind, handler)}, {job_id})
    assert answers[0]["batchItemFailures"] == []
    row = job_row(stack, job_id)
    assert (row["status"], row["attempts"], row["error"]) == (
        "failed",
        1,
        "the document was deleted",
    )


def test_the_dispatcher_sends_a_job_nobody_sent_once(
    stack: Stack, team: Team, queue: TestQueue, settings: Any
):

    kind = make_kind(queue, redispatch_after_s=60)
    job_id = new_job(stack, team)
    now = datetime.now(UTC)
    assert not dispatched(settings, kind, job_id, now), (
        "a job younger than redispatch_after_s was sent by its endpoint: left alone"
    )
    later = now + timedelta(minutes=10)
    assert dispatched(settings, kind, job_id, later)
    assert job_row(stack, job_id)["dispatched_at"] == later
    assert not dispatched(settings, kind, job_id, later + timedelta(seconds=30)), (
        "not sent again within redispatch_after_s of the last send"
    )
    assert dispatched(settings, kind, job_id, later + timedelta(minutes=2)), (
        "sent again when the last send led nowhere"
    )

    ran: list[str] = []
    deliver(queue, {kind.name: (kind, lambda job: ran.append(job.id))}, {job_id}, rounds=3)
    assert ran == [job_id], "two sends, one run"
    assert job_row(stack, job_id)["status"] == "succeeded"


def test_the_dispatcher_requeues_a_job_stuck_running(
    stack: Stack, team: Team, queue: TestQueue, settings: Any
):
    from core.jobs import dispatch

    kind = make_kind(queue, running_timeout_s=300)
    job_id = new_job(stack, team)
    stack.sql(
        "update public.document_jobs set status = 'running', attempts = 1, "
        "started_at = now() - interval '1 hour' where id = %s",
        (job_id,),
    )
    result = dispatch(settings, kind)
    assert job_id in result.requeued
    row = job_row(stack, job_id)
    assert (row["status"], row["attempts"]) == ("queued", 1)
    assert "timed out" in row["error"]

    ran: list[int] = []
    deliver(queue, {kind.name: (kind, lambda job: ran.append(job.attempt))}, {job_id}, rounds=2)
    assert ran == [2]
    assert job_row(stack, job_id)["status"] == "succeeded"


def test_the_dispatcher_fails_a_stuck_job_whose_attempts_are_used_up(
    stack: Stack, team: Team, queue: TestQueue, settings: Any
):
    from core.jobs import dispatch

    kind = make_kind(queue, max_attempts=2)
    job_id = new_job(stack, team)
    stack.sql(
        "update public.document_jobs set status = 'running', attempts = 2, "
        "started_at = now() - interval '1 hour' where id = %s",
        (job_id,),
    )
    assert job_id in dispatch(settings, kind).failed
    row = job_row(stack, job_id)
    assert (row["status"], row["error"]) == ("failed", "timed out; gave up after 2 attempts")
    assert row["finished_at"] is not None


def test_a_worker_that_finds_a_job_running_elsewhere_leaves_it(
    stack: Stack, team: Team, queue: TestQueue, settings: Any
):
    from core.jobs import send

    kind = make_kind(queue)
    job_id = new_job(stack, team)
    started = datetime.now(UTC) - timedelta(seconds=5)
    stack.sql(
        "update public.document_jobs set status = 'running', attempts = 1, started_at = %s "
        "where id = %s",
        (started, job_id),
    )
    ran: list[str] = []
    send(settings, kind, job_id)
    answers = deliver(queue, {kind.name: (kind, lambda job: ran.append(job.id))}, {job_id})
    assert answers[0]["batchItemFailures"] == [] and ran == []
    assert job_row(stack, job_id)["status"] == "running"


def test_a_malformed_message_is_reported_failed(queue: TestQueue, settings: Any):
    from core.jobs import run_sqs_batch
    from devstack.events import LambdaContext, sqs_event

    kind = make_kind(queue)
    bodies = ["not json", json.dumps({"kind": "nobody", "job_id": str(uuid.uuid4())})]
    messages = [
        {"MessageId": f"m{i}", "ReceiptHandle": "r", "Body": b} for i, b in enumerate(bodies)
    ]
    answer = run_sqs_batch(
        sqs_event(messages, queue.arn, "us-east-1"),
        LambdaContext("test-worker", "r"),
        {kind.name: (kind, lambda job: None)},
        function="tests.jobs",
    )
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m0"}, {"itemIdentifier": "m1"}]}


# --- the guard on worker columns -------------------------------------------------------------
GUARD_SETUP = """
create temp table guarded_jobs (
  id int primary key, status text not null default 'queued', attempts int not null default 0,
  error text, note text
);
create trigger guard before insert or update on guarded_jobs
  for each row execute function private.guard_job_columns('status=queued', 'attempts=0', 'error');
grant all on guarded_jobs to authenticated;
insert into guarded_jobs (id) values (1);
"""


@pytest.mark.parametrize(
    "statement",
    [
        "insert into guarded_jobs (id, attempts) values (2, 1)",
        "insert into guarded_jobs (id, status) values (2, 'succeeded')",
        "insert into guarded_jobs (id, error) values (2, 'x')",
        "update guarded_jobs set status = 'succeeded'",
        "update guarded_jobs set attempts = 5",
        "update guarded_jobs set error = 'x'",
    ],
)
def test_clients_cannot_write_worker_columns(stack: Stack, statement: str):
    with psycopg.connect(stack.env["DB_URL"]) as conn:
        conn.execute(GUARD_SETUP)
        conn.execute("set local role authenticated")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="set by the job worker"):
            conn.execute(statement)
        conn.rollback()


def test_clients_may_write_other_columns_of_a_guarded_table(stack: Stack):
    with psycopg.connect(stack.env["DB_URL"]) as conn:
        conn.execute(GUARD_SETUP)
        conn.execute("set local role authenticated")
        conn.execute("insert into guarded_jobs (id, note) values (2, 'hello')")
        conn.execute("update guarded_jobs set note = 'changed'")
        conn.execute("reset role")
        conn.execute("update guarded_jobs set status = 'succeeded', attempts = 1")
        rows = conn.execute("select status, note from guarded_jobs order by id").fetchall()
        assert rows == [("succeeded", "changed"), ("succeeded", "changed")]
        conn.rollback()


def test_document_jobs_are_published_to_realtime(stack: Stack):
    rows = stack.sql(
        "select 1 from pg_publication_tables where pubname = 'supabase_realtime'"
        " and schemaname = 'public' and tablename = 'document_jobs'"
    )
    assert rows, "a UI follows a generation job's progress over Realtime"


def test_the_guard_is_on_document_jobs(stack: Stack):
    rows = stack.sql(
        "select tgname from pg_trigger where tgrelid = 'public.document_jobs'::regclass"
        " and tgname = 'document_jobs_guard_worker_columns'"
    )
    assert rows
