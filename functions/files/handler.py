"""Lambda entry point of the files HTTP API (API Gateway HTTP API v2 -> Mangum -> the
Starlette app). The S3, SQS and schedule handlers are in ``files.events``, so those Lambdas
do not build the HTTP app."""

from __future__ import annotations

from mangum import Mangum

from core.http import base_path
from files import FUNCTION
from files.app import app

handler = Mangum(app, lifespan="off", api_gateway_base_path=base_path(FUNCTION))
