"""serverless.yml describes what the code does: handlers import, routes exist in the apps,
SQS events report partial failures, the local event host mirrors the subscriptions, and the
packaged CloudFormation passes cfn-lint (Serverless v3 `package`, offline)."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.routing import Match

from devstack import events as event_host
from devstack import package_lambda

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "serverless.yml").read_text())


def _handler(path: str) -> Any:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module.replace("/", ".")), name)


def _events(function: dict[str, Any], kind: str) -> list[Any]:
    return [e[kind] for e in function.get("events", []) if kind in e]


def test_provider_is_aws_python312(config: dict[str, Any]) -> None:
    assert config["provider"]["name"] == "aws"
    assert config["provider"]["runtime"] == "python3.12"
    assert config["frameworkVersion"] == "3"


def test_every_handler_imports_to_a_callable(
    config: dict[str, Any], functions_env: dict[str, str]
) -> None:
    for name, function in config["functions"].items():
        assert callable(_handler(function["handler"])), name


def _app_routes(function: dict[str, Any]) -> tuple[str, Any]:
    module = importlib.import_module(function["handler"].rpartition(".")[0].replace("/", "."))
    mangum = module.handler
    return mangum.config["api_gateway_base_path"], mangum.app


def _matches(app: Any, method: str, path: str) -> bool:
    scope = {"type": "http", "method": method, "path": path, "root_path": ""}
    concrete = re.sub(r"\{[^}]+\}", "00000000-0000-4000-8000-000000000000", path)
    scope["path"] = concrete or "/"
    return any(route.matches(scope)[0] == Match.FULL for route in app.routes)


def test_every_http_route_matches_an_app_route(
    config: dict[str, Any], functions_env: dict[str, str]
) -> None:
    for name, function in config["functions"].items():
        routes = _events(function, "httpApi")
        if not routes:
            continue
        base, app = _app_routes(function)
        for route in routes:
            method, path = route.split(" ", 1)
            assert path.startswith(base), f"{name}: {route} is outside {base}"
            assert _matches(app, method, path[len(base) :]), f"{name}: {route} has no app route"


def test_every_app_operation_is_routed(
    config: dict[str, Any], functions_env: dict[str, str]
) -> None:
    for name, function in config["functions"].items():
        routes = _events(function, "httpApi")
        if not routes:
            continue
        base, app = _app_routes(function)
        declared = {(r.split(" ", 1)[0], r.split(" ", 1)[1][len(base) :] or "/") for r in routes}
        for route in app.routes:
            for method in route.methods - {"HEAD"}:
                assert (method, route.path) in declared, (
                    f"{name}: {method} {route.path} not deployed"
                )


def test_sqs_events_report_partial_failures_and_queues_have_dlqs(config: dict[str, Any]) -> None:
    resources = config["resources"]["Resources"]
    sqs_events = [e for f in config["functions"].values() for e in _events(f, "sqs")]
    assert sqs_events
    for event in sqs_events:
        assert event["functionResponseType"] == "ReportBatchItemFailures"
        queue = resources[event["arn"]["Fn::GetAtt"][0]]
        redrive = queue["Properties"]["RedrivePolicy"]
        assert redrive["deadLetterTargetArn"]["Fn::GetAtt"][0] in resources
        assert redrive["maxReceiveCount"] >= 3


def test_every_function_has_its_own_role(config: dict[str, Any]) -> None:
    resources = config["resources"]["Resources"]
    roles = [f["role"] for f in config["functions"].values()]
    assert len(roles) == len(set(roles))
    for role in roles:
        assert resources[role]["Type"] == "AWS::IAM::Role"
        statements = resources[role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        for statement in statements:
            assert statement["Resource"] != "*", f"{role} grants {statement['Action']} on *"


def test_local_event_host_mirrors_the_subscriptions(config: dict[str, Any]) -> None:
    def handlers(kind: str) -> set[str]:
        return {
            f["handler"].replace("/", ".") for f in config["functions"].values() if _events(f, kind)
        }

    local = {spec.kind: set() for spec in event_host.QUEUES}
    for spec in event_host.QUEUES:
        local[spec.kind].add(spec.handler)
    assert local["sqs"] == handlers("sqs")
    assert local["s3"] == handlers("s3")
    assert set(event_host.SCHEDULES.values()) == handlers("schedule")


def test_settings_come_from_ssm(config: dict[str, Any]) -> None:
    environment = config["provider"]["environment"]
    for name in ("SUPABASE_URL", "SUPABASE_ANON_KEY", "SUPABASE_JWT_SECRET"):
        assert environment[name].startswith("{{resolve:ssm:")
    assert "SUPABASE_SERVICE_ROLE_KEY" not in environment  # only where a function needs it
    for name, function in config["functions"].items():
        has_key = "SUPABASE_SERVICE_ROLE_KEY" in function.get("environment", {})
        # health reads the LLM chain's breakers through a service-role RPC
        assert has_key == name.startswith(
            (
                "files",
                "documents",
                "assistant",
                "privacy",
                "integrations",
                "health",
                "notify",
                "assets",
            )
        ), name


@pytest.mark.parametrize(
    "package", ["files", "documents", "assistant", "privacy", "integrations", "notify", "assets"]
)
def test_every_function_gets_the_settings_it_requires(
    config: dict[str, Any], functions_env: dict[str, str], package: str
) -> None:
    required = importlib.import_module(package).REQUIRED
    provider = set(config["provider"]["environment"])
    for name, function in config["functions"].items():
        if name.startswith(package):
            given = provider | set(function.get("environment", {}))
            assert {r.upper() for r in required} <= given, name


def test_privacy_exports_expire_after_7_days(config: dict[str, Any]) -> None:
    from privacy.settings import PrivacySettings

    bucket = config["resources"]["Resources"]["PrivacyExportsBucket"]["Properties"]
    [rule] = bucket["LifecycleConfiguration"]["Rules"]
    assert (rule["Status"], rule["Prefix"], rule["ExpirationInDays"]) == ("Enabled", "exports/", 7)
    assert PrivacySettings.model_fields["privacy_export_ttl_days"].default == 7
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]


@pytest.mark.parametrize("package", ["files", "documents", "privacy", "integrations", "assets"])
def test_event_handlers_do_not_build_the_http_app(
    functions_env: dict[str, str], package: str
) -> None:
    import subprocess
    import sys

    http = f"{{'{package}.app', 'mangum', 'starlette', 'core.http', 'markdown_it', 'docx'}}"
    code = f"import sys, {package}.events; print(sorted({http} & {{*sys.modules}}))"
    out = subprocess.run(  # functions_env is in os.environ
        [sys.executable, "-c", code],
        cwd=ROOT / "functions",
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert out.stdout.strip() == "[]"


def test_packaged_template_passes_cfn_lint(tmp_path: Path) -> None:
    # The code only (no dependencies): the template does not depend on the zip's content,
    # and this keeps the test offline. `make package` builds the real artifact.
    artifact = tmp_path / "lambda.zip"
    with zipfile.ZipFile(artifact, "w") as archive:
        for folder in package_lambda.function_folders():
            for path in folder.rglob("*.py"):
                archive.write(path, str(path.relative_to(package_lambda.FUNCTIONS)))
    template = package_lambda.serverless_package("prod", artifact, tmp_path / "out")
    resources = json.loads(template.read_text())["Resources"]
    assert "IamRoleLambdaExecution" not in resources  # only the per-function roles
    lint = package_lambda.cfn_lint(template)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_the_function_requirements_install_for_the_lambda_platform(tmp_path: Path) -> None:
    # What `make package` installs (manylinux2014_x86_64 / CPython 3.12, wheels only),
    # resolved without installing: a requirement with no usable wheel fails here, not at deploy.
    command = package_lambda.pip_install_command(tmp_path / "target", "--dry-run")
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]


def _environments(node: Any) -> Any:
    """Every environment mapping anywhere in the config (custom anchors and functions)."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _environments(value)
    elif isinstance(node, list):
        for value in node:
            yield from _environments(value)


@pytest.mark.parametrize(
    "module, kind",
    [
        ("documents", "DOCUMENT_JOBS"),
        ("assets", "ASSET_JOBS"),
        ("integrations.jobs", "SYNCS"),
        ("privacy.kinds", "PRIVACY_REQUESTS"),
        ("notify.kinds", "DELIVERIES"),
    ],
)
def test_each_job_queue_retries_every_attempt_before_its_dlq(
    config: dict[str, Any], functions_env: dict[str, str], module: str, kind: str
) -> None:
    """SQS moves a message to the DLQ after maxReceiveCount receives; the pipeline gives up
    after the kind's max_attempts. Receives must outnumber attempts, or the DLQ takes a job
    the pipeline still meant to retry."""
    job_kind = getattr(importlib.import_module(f"functions.{module}"), kind)
    refs = {
        env[job_kind.queue_url_setting]["Ref"]
        for env in _environments(config)
        if isinstance(env.get(job_kind.queue_url_setting), dict)
    }
    assert len(refs) == 1, refs
    queue = config["resources"]["Resources"][refs.pop()]
    assert queue["Properties"]["RedrivePolicy"]["maxReceiveCount"] > job_kind.max_attempts
