"""The local event host: delivers events to the functions' plain handlers as AWS would.

* **S3 object-created notifications.** moto's S3 sends them to an SQS queue (the bucket's
  notification configuration, set by :func:`ensure_queues`); the host receives each message,
  unwraps the S3 event and invokes the S3 handler with it. A handler that raises leaves the
  message in the queue: it is delivered again when its visibility timeout ends, and after
  ``max_receive_count`` tries moto's redrive policy moves it to the dead-letter queue (AWS
  retries failed asynchronous S3 invocations and then sends them to an on-failure DLQ).
* **SQS event source mappings.** Each subscribed queue is long-polled; up to ``batch_size``
  messages become one Lambda SQS event; only the records named in the handler's
  ``batchItemFailures`` stay in the queue (a raising handler or an invalid answer fails the
  whole batch), so redelivery and dead-lettering happen exactly as with
  ``ReportBatchItemFailures``.
* **Schedules.** Every schedule event of ``serverless.yml`` runs at its rate
  (``devstack/schedules.py``; paused by ``make schedules-pause`` and during test sessions),
  and on demand: ``python -m devstack.events invoke <function>`` (``make invoke
  FN=<function>``) calls a scheduled handler with an EventBridge "Scheduled Event".

The gateway starts :func:`run` as a background task; :func:`ensure_queues` is called by
``devstack.aws_resources.ensure_resources`` when moto starts. The subscriptions below mirror
``serverless.yml`` (tests/functions/test_serverless.py keeps the two in step).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import os
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from devstack import schedules

log = logging.getLogger("devstack.events")

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = ROOT / "functions"
ACCOUNT_ID = "123456789012"  # moto's default account


@dataclass(frozen=True)
class QueueSpec:
    """A queue, its dead-letter queue and the handler subscribed to it."""

    name: str  # local queue name (the DLQ is <name>-dlq)
    env_name: str  # settings name of the queue URL (the DLQ's is <ENV_NAME minus _URL>_DLQ_URL)
    handler: str  # "<module>.<callable>" under functions/
    kind: str  # "sqs": SQS event source mapping; "s3": S3 notifications delivered via SQS
    batch_size: int = 10
    max_receive_count: int = 3
    visibility_timeout: int = 5  # seconds; short locally so redelivery is quick

    @property
    def dlq_env_name(self) -> str:
        return self.env_name.removesuffix("_URL") + "_DLQ_URL"


QUEUES: tuple[QueueSpec, ...] = (
    QueueSpec(
        name="collab-files-object-created-local",
        env_name="FILES_OBJECT_CREATED_QUEUE_URL",
        handler="files.events.object_created",
        kind="s3",
        batch_size=1,
    ),
    QueueSpec(
        name="collab-files-cleanup-local",
        env_name="FILES_CLEANUP_QUEUE_URL",
        handler="files.events.cleanup_objects",
        kind="sqs",
    ),
    QueueSpec(
        name="collab-document-jobs-local",
        env_name="DOCUMENT_JOBS_QUEUE_URL",
        handler="documents.events.process_jobs",
        kind="sqs",
        batch_size=5,
        max_receive_count=5,
    ),
    QueueSpec(
        name="collab-asset-jobs-local",
        env_name="ASSET_JOBS_QUEUE_URL",
        handler="assets.events.process_jobs",
        kind="sqs",
        batch_size=5,
        max_receive_count=5,  # assets.ASSET_JOBS.max_attempts is 3
    ),
    QueueSpec(
        name="collab-privacy-requests-local",
        env_name="PRIVACY_QUEUE_URL",
        handler="privacy.events.process_requests",
        kind="sqs",
        batch_size=1,
        # an export may take a while; locally a redelivery must not overtake a running job
        visibility_timeout=30,
        max_receive_count=5,
    ),
    QueueSpec(
        name="collab-integrations-sync-local",
        env_name="INTEGRATIONS_SYNC_QUEUE_URL",
        handler="integrations.events.process_syncs",
        kind="sqs",
        batch_size=5,
        max_receive_count=5,  # integrations.jobs.SYNCS.max_attempts
    ),
    QueueSpec(
        name="collab-notify-deliveries-local",
        env_name="NOTIFY_QUEUE_URL",
        handler="notify.events.process_deliveries",
        kind="sqs",
        batch_size=10,
        max_receive_count=6,  # notify.kinds.DELIVERIES.max_attempts + 1
    ),
    QueueSpec(
        name="collab-notify-ses-events-local",
        env_name="NOTIFY_SES_EVENTS_QUEUE_URL",
        handler="notify.events.process_ses_events",
        kind="sqs",
    ),
)

# S3 notifications of the files bucket (serverless.yml: the s3 event of filesObjectCreated).
S3_NOTIFICATION_PREFIX = "files/"

# Scheduled handlers, by the name `make invoke FN=` takes: every schedule event of
# serverless.yml (devstack/schedules.py reads them; the gateway runs them at their rate).
SCHEDULES: dict[str, str] = {s.name: s.handler for s in schedules.load()}


# -- resources -------------------------------------------------------------------------------
def _client(service: str, env: dict[str, str]) -> Any:
    return boto3.client(
        service,
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env.get("AWS_DEFAULT_REGION", "us-east-1"),
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def ensure_queues(env: dict[str, str]) -> dict[str, str]:
    """Create the queues, their DLQs and redrive policies, and the bucket's S3 -> SQS
    notification; return the queue URLs as settings. Idempotent."""
    sqs = _client("sqs", env)
    s3 = _client("s3", env)
    settings: dict[str, str] = {}
    for spec in QUEUES:
        dlq_url = sqs.create_queue(
            QueueName=f"{spec.name}-dlq", Attributes={"MessageRetentionPeriod": "1209600"}
        )["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        url = sqs.create_queue(QueueName=spec.name)["QueueUrl"]
        sqs.set_queue_attributes(
            QueueUrl=url,
            Attributes={
                "VisibilityTimeout": str(spec.visibility_timeout),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": spec.max_receive_count}
                ),
            },
        )
        settings[spec.env_name] = url
        settings[spec.dlq_env_name] = dlq_url
        if spec.kind == "s3":
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            s3.put_bucket_notification_configuration(
                Bucket=env["FILES_BUCKET"],
                NotificationConfiguration={
                    "QueueConfigurations": [
                        {
                            "Id": "files-object-created",
                            "QueueArn": arn,
                            "Events": ["s3:ObjectCreated:*"],
                            "Filter": {
                                "Key": {
                                    "FilterRules": [
                                        {"Name": "prefix", "Value": S3_NOTIFICATION_PREFIX}
                                    ]
                                }
                            },
                        }
                    ]
                },
            )
            # Saving a notification configuration sends an s3:TestEvent; the S3 handler
            # recognises and skips it, as it must in AWS.
    # The shared secret of Supabase database webhooks. LOCAL DEVELOPMENT DEFAULT; production
    # reads it from SSM (serverless.yml).
    settings["WEBHOOK_SECRET"] = os.environ.get("WEBHOOK_SECRET") or "local-dev-webhook-secret"
    return settings


# -- invoking handlers -------------------------------------------------------------------------
@dataclass
class LambdaContext:
    """The parts of Lambda's context object handlers use."""

    function_name: str
    aws_request_id: str
    memory_limit_in_mb: int = 512
    timeout_seconds: int = 30
    started: float = 0.0

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.started + self.timeout_seconds - time.monotonic()) * 1000))


def load_handler(path: str) -> Callable[[dict[str, Any], Any], Any]:
    if str(FUNCTIONS_DIR) not in sys.path:
        sys.path.insert(0, str(FUNCTIONS_DIR))
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def invoke(path: str, event: dict[str, Any]) -> Any:
    """Call a handler with an event and a fresh context, as one Lambda invocation."""
    context = LambdaContext(
        function_name=path, aws_request_id=str(uuid.uuid4()), started=time.monotonic()
    )
    return load_handler(path)(event, context)


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """Lambda's SQS event for received messages (the shape the event source mapping sends)."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {
                    k: {
                        "stringValue": v.get("StringValue"),
                        "binaryValue": v.get("BinaryValue"),
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": v.get("DataType"),
                    }
                    for k, v in m.get("MessageAttributes", {}).items()
                },
                "md5OfBody": m.get("MD5OfBody"),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


def scheduled_event(rule: str, region: str = "us-east-1") -> dict[str, Any]:
    """EventBridge's "Scheduled Event" for a rule, as it invokes a Lambda target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{ACCOUNT_ID}:rule/{rule}"],
        "detail": {},
    }


class QueuePoller:
    """One queue delivered to one handler."""

    def __init__(self, spec: QueueSpec, env: dict[str, str]) -> None:
        self.spec = spec
        self.url = env[spec.env_name]
        self.region = env.get("AWS_DEFAULT_REGION", "us-east-1")
        self.sqs = _client("sqs", env)
        self.arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]

    def receive(self) -> list[dict[str, Any]]:
        return self.sqs.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=self.spec.batch_size,
            WaitTimeSeconds=1,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])

    def delete(self, messages: list[dict[str, Any]]) -> None:
        for i in range(0, len(messages), 10):
            chunk = messages[i : i + 10]
            self.sqs.delete_message_batch(
                QueueUrl=self.url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(chunk)
                ],
            )

    def deliver(self, messages: list[dict[str, Any]]) -> None:
        """Invoke the handler; delete what succeeded; leave the rest for redelivery."""
        if self.spec.kind == "s3":
            done = []
            for message in messages:
                try:
                    invoke(self.spec.handler, json.loads(message["Body"]))
                except Exception:
                    log.exception("%s failed; the event will be retried", self.spec.handler)
                else:
                    done.append(message)
            self.delete(done)
            return
        try:
            result = invoke(self.spec.handler, sqs_event(messages, self.arn, self.region))
        except Exception:
            log.exception("%s raised; the whole batch will be retried", self.spec.handler)
            return
        try:
            failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
        except (AttributeError, KeyError, TypeError):
            log.error("%s answered %r; treating the batch as failed", self.spec.handler, result)
            return
        self.delete([m for m in messages if m["MessageId"] not in failed])

    def poll_once(self) -> int:
        messages = self.receive()
        if messages:
            self.deliver(messages)
        return len(messages)


async def _poll_forever(poller: QueuePoller) -> None:
    while True:
        try:
            await asyncio.to_thread(poller.poll_once)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("polling %s failed; retrying", poller.spec.name)
            await asyncio.sleep(1)


def invoke_schedule(schedule: schedules.Schedule, region: str = "us-east-1") -> Any:
    """One EventBridge invocation of a scheduled handler."""
    return invoke(schedule.handler, scheduled_event(schedule.name, region))


async def run(env: dict[str, str], state_dir: Path | None = None) -> None:
    """Deliver queue and S3 events and run the schedules until cancelled (started by the
    gateway)."""
    from devstack.config import Config

    state_dir = state_dir or Config().state_dir
    region = env.get("AWS_DEFAULT_REGION", "us-east-1")
    pollers = [QueuePoller(spec, env) for spec in QUEUES if spec.env_name in env]
    if not pollers:
        log.warning("no event queues in the env file; event delivery and schedules are off")
        return
    log.info("delivering events from %s", ", ".join(p.spec.name for p in pollers))
    await asyncio.gather(
        *(_poll_forever(p) for p in pollers),
        schedules.run_forever(lambda s: invoke_schedule(s, region), state_dir),
    )


# -- command line: schedules on demand ------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.events")
    sub = parser.add_subparsers(dest="command", required=True)
    inv = sub.add_parser("invoke", help="invoke a scheduled function now")
    inv.add_argument("function", help=f"one of: {', '.join(SCHEDULES)} (or module.handler)")
    sub.add_parser("list", help="list event subscriptions")
    args = parser.parse_args(argv)

    if args.command == "list":
        for spec in QUEUES:
            print(f"{spec.kind:4} {spec.name:40} -> {spec.handler}")
        for rule, handler in SCHEDULES.items():
            print(f"cron {rule:40} -> {handler}")
        return 0

    from devstack.config import Config, function_env

    env = Config().current_env()
    os.environ.update(function_env(env))
    handler = SCHEDULES.get(args.function, args.function)
    if handler not in SCHEDULES.values():
        parser.error(f"unknown schedule {args.function!r}; known: {', '.join(SCHEDULES)}")
    rule = next(r for r, h in SCHEDULES.items() if h == handler)
    result = invoke(handler, scheduled_event(rule, env.get("AWS_DEFAULT_REGION", "us-east-1")))
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    raise SystemExit(main())
