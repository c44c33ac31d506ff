"""Alarms: the packaged CloudFormation template (``serverless package``, offline) covers every
Lambda function, every queue and dead-letter queue, the HTTP API and SES, and every alarm
notifies the one SNS topic. Derived from the template, so a function or queue added to
serverless.yml without its alarms fails here."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from devstack import package_lambda


@pytest.fixture(scope="module")
def resources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("alarms")
    artifact = tmp / "lambda.zip"
    with zipfile.ZipFile(artifact, "w") as archive:
        for folder in package_lambda.function_folders():
            for path in folder.rglob("*.py"):
                archive.write(path, str(path.relative_to(package_lambda.FUNCTIONS)))
    template = package_lambda.serverless_package("prod", artifact, tmp / "out")
    return json.loads(Path(template).read_text())["Resources"]


def _of_type(resources: dict[str, Any], kind: str) -> dict[str, Any]:
    return {name: r for name, r in resources.items() if r["Type"] == kind}


def _alarms(resources: dict[str, Any]) -> list[dict[str, Any]]:
    return [r["Properties"] for r in _of_type(resources, "AWS::CloudWatch::Alarm").values()]


def _dimension_ref(alarm: dict[str, Any], name: str) -> str | None:
    for dimension in alarm.get("Dimensions", []):
        if dimension["Name"] == name:
            value = dimension["Value"]
            return value.get("Ref") or value.get("Fn::GetAtt", [None])[0]
    return None


def _dead_letter_queues(resources: dict[str, Any]) -> set[str]:
    """Queues that are a redrive target or a function's on-failure destination."""
    found = set()
    for resource in resources.values():
        props = resource.get("Properties", {})
        target = props.get("RedrivePolicy", {}).get("deadLetterTargetArn")
        on_failure = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        for ref in (target, on_failure):
            if isinstance(ref, dict) and "Fn::GetAtt" in ref:
                found.add(ref["Fn::GetAtt"][0])
    return found


def test_every_function_alarms_on_errors_throttles_and_p99_near_its_timeout(
    resources: dict[str, Any],
):
    functions = _of_type(resources, "AWS::Lambda::Function")
    assert len(functions) >= 10
    for name, function in functions.items():
        mine = [a for a in _alarms(resources) if _dimension_ref(a, "FunctionName") == name]
        metrics = {a["MetricName"]: a for a in mine}
        assert {"Errors", "Throttles", "Duration"} <= set(metrics), f"{name}: {sorted(metrics)}"
        assert metrics["Errors"]["Threshold"] == 0 and metrics["Throttles"]["Threshold"] == 0
        duration = metrics["Duration"]
        timeout_ms = function["Properties"]["Timeout"] * 1000
        assert duration["ExtendedStatistic"] == "p99"
        assert 0.5 * timeout_ms <= duration["Threshold"] < timeout_ms, name


def test_every_queue_alarms_on_its_oldest_message_and_every_dlq_on_any_message(
    resources: dict[str, Any],
):
    queues = _of_type(resources, "AWS::SQS::Queue")
    dlqs = _dead_letter_queues(resources)
    assert dlqs and set(queues) - dlqs
    for name, queue in queues.items():
        mine = {
            a["MetricName"]: a for a in _alarms(resources) if _dimension_ref(a, "QueueName") == name
        }
        if name in dlqs:
            alarm = mine.get("ApproximateNumberOfMessagesVisible")
            assert alarm, f"DLQ {name} has no alarm on its messages"
            assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")
        else:
            alarm = mine.get("ApproximateAgeOfOldestMessage")
            assert alarm, f"queue {name} has no alarm on its oldest message"
            assert alarm["Threshold"] <= queue["Properties"].get("VisibilityTimeout", 30)


def test_the_api_5xx_rate_and_ses_reputation_have_alarms(resources: dict[str, Any]):
    alarms = _alarms(resources)
    api = [a for a in alarms if "Metrics" in a]
    [rate] = api
    stats = [m["MetricStat"]["Metric"] for m in rate["Metrics"] if "MetricStat" in m]
    assert {m["MetricName"] for m in stats} == {"5xx", "Count"}
    assert all(m["Dimensions"] == [{"Name": "ApiId", "Value": {"Ref": "HttpApi"}}] for m in stats)
    assert "HttpApi" in resources
    ses = {a["MetricName"] for a in alarms if a.get("Namespace") == "AWS/SES"}
    assert ses == {"Reputation.BounceRate", "Reputation.ComplaintRate"}


def test_every_alarm_notifies_the_one_topic_whose_subscriber_comes_from_ssm(
    resources: dict[str, Any],
):
    # other topics carry events (SES bounces to the notify queue); alarms go to one only
    topics = {alarm["AlarmActions"][0]["Ref"] for alarm in _alarms(resources)}
    [topic] = topics
    assert resources[topic]["Type"] == "AWS::SNS::Topic"
    for alarm in _alarms(resources):
        assert alarm["AlarmActions"] == [{"Ref": topic}], alarm.get("AlarmDescription")
        assert alarm["TreatMissingData"] == "notBreaching"
    [subscription] = [
        s
        for s in _of_type(resources, "AWS::SNS::Subscription").values()
        if s["Properties"]["TopicArn"] == {"Ref": topic}
    ]
    assert subscription["Properties"]["TopicArn"] == {"Ref": topic}
    assert subscription["Properties"]["Endpoint"].startswith("{{resolve:ssm:/collab/prod/")
