"""AWS clients (S3, SQS, SES v2), created on first use so boto3 stays out of the cold import.

``AWS_ENDPOINT_URL`` points every client at a local emulator (moto server); in production
it is unset and boto3 uses the Lambda role's credentials and the regional endpoints.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

from core.settings import Settings

if TYPE_CHECKING:  # pragma: no cover
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

_clients: dict[tuple[str, str, str | None], Any] = {}
_lock = threading.Lock()


def _client(service: str, settings: Settings) -> Any:
    key = (service, settings.aws_region, settings.aws_endpoint_url)
    client = _clients.get(key)
    if client is not None:
        return client
    with _lock:
        client = _clients.get(key)
        if client is None:
            import boto3
            from botocore.config import Config

            kwargs: dict[str, Any] = {}
            config_kwargs: dict[str, Any] = {
                "region_name": settings.aws_region,
                "retries": {"max_attempts": 3, "mode": "standard"},
                "connect_timeout": 3,
                "read_timeout": 10,
            }
            if service == "s3":
                config_kwargs["signature_version"] = "s3v4"
            if settings.aws_endpoint_url:
                kwargs["endpoint_url"] = settings.aws_endpoint_url
                if service == "s3":
                    config_kwargs["s3"] = {"addressing_style": "path"}
                # A local emulator accepts any credentials; production never sets an endpoint.
                if not os.environ.get("AWS_ACCESS_KEY_ID"):
                    kwargs["aws_access_key_id"] = "local"
                    kwargs["aws_secret_access_key"] = "local"
            client = boto3.session.Session().client(
                service, config=Config(**config_kwargs), **kwargs
            )
            _clients[key] = client
    return client


def s3(settings: Settings) -> S3Client:
    return _client("s3", settings)


def sqs(settings: Settings) -> SQSClient:
    return _client("sqs", settings)


def sesv2(settings: Settings) -> Any:
    """SES (API v2): the product's mail in production (``core.mail``)."""
    return _client("sesv2", settings)
