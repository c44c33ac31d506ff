"""Event sources: real event samples through the plain handlers, and the local event host
delivering as AWS would (partial batch failures, redelivery, dead-lettering, webhooks)."""

from __future__ import annotations

import io
import json
import time
import uuid
from typing import Any

import boto3
import pytest

from devstack.events import LambdaContext, scheduled_event, sqs_event
from tests.functions.conftest import (
    Team,
    file_row,
    log_records,
    object_exists,
    post_to_s3,
    s3_client,
    sign_upload,
    upload_request,
    wait_for_status,
    wait_until_object_gone,
)
from tests.support import Stack

# A real SQS -> Lambda event (AWS documentation sample shape).
SQS_SAMPLE: dict[str, Any] = {
    "Records": [
        {
            "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
            "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...",
            "body": "Test message.",
            "attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": "1545082649183",
                "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                "ApproximateFirstReceiveTimestamp": "1545082649185",
            },
            "messageAttributes": {},
            "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-2:123456789012:my-queue",
            "awsRegion": "us-east-2",
        }
    ]
}

# A real S3 -> Lambda ObjectCreated event (AWS documentation sample shape).
S3_SAMPLE: dict[str, Any] = {
    "Records": [
        {
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": "us-east-1",
            "eventTime": "2019-09-03T19:37:27.192Z",
            "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "AWS:AIDAINPONIXQXHT3IKHL2"},
            "requestParameters": {"sourceIPAddress": "205.255.255.255"},
            "responseElements": {
                "x-amz-request-id": "D82B88E5F771F645",
                "x-amz-id-2": "vlR7PnpV2Ce81l0PRw6jlUpck7Jo5ZsQjryTjKlc5aLWGVHPZLj5NeC6",
            },
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "828aa6fc-f7b5-4305-8584-487c791949c1",
                "bucket": {
                    "name": "DOC-EXAMPLE-BUCKET",
                    "ownerIdentity": {"principalId": "A3I5XTEXAMAI3E"},
                    "arn": "arn:aws:s3:::lambda-artifacts-deafc19498e3f2df",
                },
                "object": {
                    "key": "b21b84d653bb07b05b1e6b33684dc11b",
                    "size": 1305107,
                    "eTag": "b21b84d653bb07b05b1e6b33684dc11b",
                    "sequencer": "0C0F6F405D6ED209E1",
                },
            },
        }
    ]
}

# A real EventBridge schedule -> Lambda event.
SCHEDULE_SAMPLE: dict[str, Any] = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2015-10-08T16:53:06Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/my-scheduled-rule"],
    "detail": {},
}


def _context() -> LambdaContext:
    return LambdaContext(function_name="test", aws_request_id=str(uuid.uuid4()), started=0)


def test_event_models_accept_real_samples(functions_env: dict[str, str]) -> None:
    from core.events import DatabaseWebhook, S3Event, ScheduledEvent, SqsEvent

    assert SqsEvent.model_validate(SQS_SAMPLE).records[0].receive_count == 1
    s3 = S3Event.model_validate(S3_SAMPLE).records[0]
    assert s3.is_object_created and s3.s3.object.size == 1305107
    assert ScheduledEvent.model_validate(SCHEDULE_SAMPLE).detail_type == "Scheduled Event"
    hook = DatabaseWebhook.model_validate(
        {"type": "DELETE", "table": "files", "schema": "public", "record": None, "old_record": {}}
    )
    assert hook.schema_ == "public"


def test_s3_keys_are_url_decoded(functions_env: dict[str, str]) -> None:
    from core.events import S3Event

    event = json.loads(json.dumps(S3_SAMPLE))
    event["Records"][0]["s3"]["object"]["key"] = "files/a+b%2Bc.txt"
    assert S3Event.model_validate(event).records[0].object_key == "files/a b+c.txt"


def _cleanup_message(env: dict[str, str], key: str) -> str:
    return json.dumps({"bucket": env["FILES_BUCKET"], "key": key, "reason": "test"})


def test_sqs_batch_with_one_poisoned_record_reports_only_that_record(
    functions_env: dict[str, str], log_lines: io.StringIO
) -> None:
    from files.events import cleanup_objects

    s3 = s3_client(functions_env)
    keys = [f"files/{uuid.uuid4()}/{uuid.uuid4()}" for _ in range(3)]
    for key in keys:
        s3.put_object(Bucket=functions_env["FILES_BUCKET"], Key=key, Body=b"x")
    messages = [
        {
            "MessageId": f"good-{n}",
            "ReceiptHandle": f"rh-{n}",
            "Body": _cleanup_message(functions_env, k),
        }
        for n, k in enumerate(keys)
    ]
    messages.insert(1, {"MessageId": "poison", "ReceiptHandle": "rh-p", "Body": "{not json"})
    event = sqs_event(messages, "arn:aws:sqs:us-east-1:123456789012:cleanup", "us-east-1")

    result = cleanup_objects(event, _context())

    assert result == {"batchItemFailures": [{"itemIdentifier": "poison"}]}
    assert not any(object_exists(functions_env, key) for key in keys)
    records = [r for r in log_records(log_lines) if r["message"] == "record"]
    assert {r["message_id"]: r["outcome"] for r in records} == {
        "good-0": "ok",
        "poison": "rejected",
        "good-1": "ok",
        "good-2": "ok",
    }
    assert all(r["request_id"] and "duration_ms" in r for r in records)


def test_an_invalid_sqs_event_fails_the_whole_invocation(functions_env: dict[str, str]) -> None:
    from pydantic import ValidationError

    from files.events import cleanup_objects

    with pytest.raises(ValidationError):
        cleanup_objects({"Records": [{"body": "x"}]}, _context())


def test_scheduled_event_sample_runs_the_expiry(
    stack: Stack, team: Team, functions_env: dict[str, str]
) -> None:
    from files.events import expire_pending_uploads

    data = b"never uploaded"
    file_id = sign_upload(
        stack, team.members["editor"], upload_request(team.project_id, data)
    ).json()["file"]["id"]
    # Age the row (the shared timestamp trigger keeps created_at, so bypass triggers here).
    stack.sql(
        "set session_replication_role = replica;"
        f"update public.files set created_at = now() - interval '2 hours'"
        f" where id = '{uuid.UUID(file_id)}'"
    )
    event = {**SCHEDULE_SAMPLE, "time": scheduled_event("x")["time"]}
    result = expire_pending_uploads(event, _context())
    assert result["expired"] >= 1
    row = stack.sql("select status, failure_reason from public.files where id = %s", (file_id,))[0]
    assert row == {"status": "failed", "failure_reason": "upload not completed in time"}


def test_expiry_queues_removal_before_failing_the_row(
    stack: Stack, team: Team, functions_env: dict[str, str], make_settings: Any
) -> None:
    from files import service

    data = b"arrived too late"
    body = sign_upload(stack, team.members["editor"], upload_request(team.project_id, data)).json()
    file_id, key = body["file"]["id"], body["upload"]["fields"]["key"]
    stack.sql(
        "set session_replication_role = replica;"
        f"update public.files set created_at = now() - interval '2 hours'"
        f" where id = '{uuid.UUID(file_id)}'"
    )
    post_to_s3(body["upload"], data, "text/plain")
    # Past the TTL an upload no longer becomes ready, even when it matches.
    settings = make_settings()
    assert service.verify_uploaded_object(settings, settings.files_bucket, key) == "not_marked"

    missing_queue = functions_env["FILES_CLEANUP_QUEUE_URL"].rsplit("/", 1)[0] + "/no-such-queue"
    with pytest.raises(Exception, match=r"NonExistentQueue|QueueDoesNotExist|does not exist"):
        service.expire_pending_uploads(make_settings(files_cleanup_queue_url=missing_queue))
    # Queueing failed, so the row is still pending and the next run picks it up again.
    assert file_row(stack, file_id)["status"] == "pending"
    assert object_exists(functions_env, key)

    assert service.expire_pending_uploads(settings) >= 1
    row = file_row(stack, file_id)
    assert (row["status"], row["failure_reason"]) == ("failed", "upload not completed in time")
    assert wait_until_object_gone(functions_env, key)


def test_make_invoke_runs_a_schedule(stack: Stack) -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "devstack.events", "invoke", "files-expire-pending-uploads"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert '"expired"' in out.stdout.strip().splitlines()[-1]


def test_s3_handler_skips_the_test_event_and_unknown_buckets(
    functions_env: dict[str, str], log_lines: io.StringIO
) -> None:
    from files.events import object_created

    assert object_created(
        {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"}, _context()
    ) == {"records": 0}
    assert object_created(S3_SAMPLE, _context()) == {"records": 1}
    records = [r for r in log_records(log_lines) if r["message"] == "record"]
    assert [(r["bucket"], r["outcome"]) for r in records] == [
        ("DOC-EXAMPLE-BUCKET", "ignored_other_bucket")
    ]


def test_a_record_handler_bug_is_an_error_not_a_rejected_record(
    functions_env: dict[str, str], log_lines: io.StringIO
) -> None:
    from core.batch import PermanentRecordError, process_sqs_batch

    def handler(record: Any) -> None:
        if record.body == "bad payload":
            raise PermanentRecordError("bad payload")
        raise ValueError("a bug")

    messages = [
        {"MessageId": "bad", "ReceiptHandle": "rh-1", "Body": "bad payload"},
        {"MessageId": "bug", "ReceiptHandle": "rh-2", "Body": "fine"},
    ]
    event = sqs_event(messages, "arn:aws:sqs:us-east-1:123456789012:q", "us-east-1")
    result = process_sqs_batch(event, _context(), handler, function="test")
    assert result == {"batchItemFailures": [{"itemIdentifier": "bad"}, {"itemIdentifier": "bug"}]}
    records = [r for r in log_records(log_lines) if r["message"] == "record"]
    assert {r["message_id"]: (r["level"], r["outcome"]) for r in records} == {
        "bad": ("WARNING", "rejected"),
        "bug": ("ERROR", "error"),
    }


def test_a_cleanup_message_for_another_bucket_is_rejected(
    functions_env: dict[str, str], log_lines: io.StringIO
) -> None:
    from files.events import cleanup_objects

    body = json.dumps({"bucket": "other", "key": f"files/{uuid.uuid4()}/{uuid.uuid4()}"})
    messages = [{"MessageId": "other", "ReceiptHandle": "rh", "Body": body}]
    event = sqs_event(messages, "arn:aws:sqs:us-east-1:123456789012:cleanup", "us-east-1")
    assert cleanup_objects(event, _context()) == {
        "batchItemFailures": [{"itemIdentifier": "other"}]
    }
    (record,) = [r for r in log_records(log_lines) if r["message"] == "record"]
    assert record["outcome"] == "rejected" and "other" in record["reason"]


def test_refused_cleanup_messages_fail_the_enqueue(functions_env: dict[str, str]) -> None:
    # moto only refuses batch entries for an invalid DelaySeconds, which the service never
    # sends, so SQS's answer with a Failed entry comes from botocore's Stubber here.
    from botocore.stub import Stubber

    from core import aws
    from core.errors import ApiError
    from files import service
    from files.events import settings
    from files.models import ObjectCleanup

    cleanups = [
        ObjectCleanup(bucket=settings.files_bucket, key=f"files/{uuid.uuid4()}/{uuid.uuid4()}")
        for _ in range(2)
    ]
    with Stubber(aws.sqs(settings)) as sqs:
        sqs.add_response(
            "send_message_batch",
            {
                "Successful": [{"Id": "0", "MessageId": "m-0", "MD5OfMessageBody": "0" * 32}],
                "Failed": [
                    {"Id": "1", "SenderFault": False, "Code": "InternalError", "Message": "x"}
                ],
            },
        )
        with pytest.raises(ApiError) as refused:
            service.enqueue_cleanup(settings, cleanups)
        sqs.assert_no_pending_responses()
    assert (refused.value.status, refused.value.code) == (503, "queue_unavailable")


def test_s3_notification_is_idempotent(
    stack: Stack, team: Team, functions_env: dict[str, str]
) -> None:
    from files.events import object_created

    data = b"twice delivered"
    body = sign_upload(stack, team.members["editor"], upload_request(team.project_id, data)).json()
    post_to_s3(body["upload"], data, "text/plain")
    assert wait_for_status(stack, body["file"]["id"])["status"] == "ready"
    event = json.loads(json.dumps(S3_SAMPLE))
    event["Records"][0]["s3"]["bucket"]["name"] = functions_env["FILES_BUCKET"]
    event["Records"][0]["s3"]["object"]["key"] = body["upload"]["fields"]["key"]
    object_created(event, _context())  # replayed notification
    assert file_row(stack, body["file"]["id"])["status"] == "ready"
    assert object_exists(functions_env, body["upload"]["fields"]["key"])


def test_replacing_a_verified_object_fails_the_file(
    stack: Stack, team: Team, functions_env: dict[str, str]
) -> None:
    data = b"original content"
    body = sign_upload(stack, team.members["editor"], upload_request(team.project_id, data)).json()
    post_to_s3(body["upload"], data, "text/plain")
    assert wait_for_status(stack, body["file"]["id"])["status"] == "ready"
    post_to_s3(body["upload"], b"swapped content!", "text/plain")  # same size, still-valid URL
    row = wait_for_status(stack, body["file"]["id"], until=lambda s: s == "failed")
    assert row["status"] == "failed" and "checksum" in row["failure_reason"]
    assert not object_exists(functions_env, body["upload"]["fields"]["key"])


def _sqs(env: dict[str, str]) -> Any:
    return boto3.client(
        "sqs",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def test_poisoned_queue_message_reaches_the_dead_letter_queue(stack: Stack) -> None:
    env = stack.env
    sqs = _sqs(env)
    marker = f"poison-{uuid.uuid4()}"
    sqs.send_message(
        QueueUrl=env["FILES_CLEANUP_QUEUE_URL"], MessageBody=json.dumps({"marker": marker})
    )
    found = None
    for _ in range(240):  # 3 receives x 5 s visibility timeout, then the move
        messages = sqs.receive_message(
            QueueUrl=env["FILES_CLEANUP_QUEUE_DLQ_URL"],
            MaxNumberOfMessages=10,
            AttributeNames=["All"],
            VisibilityTimeout=30,
        ).get("Messages", [])
        found = next((m for m in messages if marker in m["Body"]), None)
        if found:
            break
        # other tests' rejected records share this DLQ and no test reads them: remove each one
        # seen so the next receive reaches the rest, however many a reused stack has kept
        for message in messages:
            sqs.delete_message(
                QueueUrl=env["FILES_CLEANUP_QUEUE_DLQ_URL"], ReceiptHandle=message["ReceiptHandle"]
            )
        time.sleep(0.25)
    assert found is not None, "the poisoned message never reached the DLQ"
    assert int(found["Attributes"]["ApproximateReceiveCount"]) >= 3
    sqs.delete_message(
        QueueUrl=env["FILES_CLEANUP_QUEUE_DLQ_URL"], ReceiptHandle=found["ReceiptHandle"]
    )


def _webhook(stack: Stack, body: Any, secret: str | None) -> Any:
    headers = {"apikey": stack.env["ANON_KEY"]}
    if secret is not None:
        headers["x-webhook-secret"] = secret
    return stack.http().post("/functions/v1/files/webhooks/database", json=body, headers=headers)


def test_database_webhook_needs_the_shared_secret(stack: Stack) -> None:
    body = {"type": "DELETE", "table": "tasks", "schema": "public", "old_record": {}}
    assert _webhook(stack, body, None).status_code == 401
    assert _webhook(stack, body, "wrong").status_code == 401
    accepted = _webhook(stack, body, stack.env["WEBHOOK_SECRET"])
    assert accepted.status_code == 202
    assert accepted.json() == {"accepted": True, "queued": 0}  # not a table it acts on


def test_database_webhook_for_a_file_needs_its_object_key(stack: Stack) -> None:
    body = {"type": "DELETE", "table": "files", "schema": "public", "old_record": {}}
    response = _webhook(stack, body, stack.env["WEBHOOK_SECRET"])
    assert response.status_code == 422
    assert "old_record" in response.json()["message"]


def test_database_webhook_body_is_validated(stack: Stack) -> None:
    response = _webhook(stack, {"type": "TRUNCATE", "table": "files"}, stack.env["WEBHOOK_SECRET"])
    assert response.status_code == 422
    assert "type" in response.json()["message"]


def test_deleting_a_file_row_removes_its_object_through_webhook_and_queue(
    stack: Stack, team: Team
) -> None:
    data = b"to be deleted"
    body = sign_upload(stack, team.members["editor"], upload_request(team.project_id, data)).json()
    key = body["upload"]["fields"]["key"]
    posted = post_to_s3(body["upload"], data, "text/plain")
    assert posted.status_code == 204, posted.text
    assert wait_for_status(stack, body["file"]["id"])["status"] == "ready"
    file_id = body["file"]["id"]
    # A DELETE through the API only soft-deletes (no webhook fires); the row really goes when
    # the purge deletes it, which is what fires the database webhook in production.
    stack.rest(team.members["editor"].token).table("files").delete().eq("id", file_id).execute()
    assert file_row(stack, file_id)["deleted_at"] is not None
    assert object_exists(stack.env, key)  # still restorable
    stack.sql(
        "update public.files set deleted_at = now() - interval '31 days' where id = %s", (file_id,)
    )
    old = file_row(stack, file_id)
    stack.sql("delete from public.files where id = %s", (file_id,))  # the purge, for this row
    assert stack.sql("select 1 from public.files where id = %s", (file_id,)) == []
    hook = {
        "type": "DELETE",
        "table": "files",
        "schema": "public",
        "record": None,
        "old_record": json.loads(json.dumps(old, default=str)),
    }
    first = _webhook(stack, hook, stack.env["WEBHOOK_SECRET"])
    replay = _webhook(stack, hook, stack.env["WEBHOOK_SECRET"])
    assert first.status_code == replay.status_code == 202
    assert first.json() == {"accepted": True, "queued": 1}
    assert wait_until_object_gone(stack.env, key)
