"""Lambda entry point of the documents HTTP API (API Gateway HTTP API v2 -> Mangum -> the
Starlette app). The SQS worker and the dispatcher are in ``documents.events``."""

from __future__ import annotations

from mangum import Mangum

from core.http import base_path
from documents import FUNCTION
from documents.app import app

handler = Mangum(app, lifespan="off", api_gateway_base_path=base_path(FUNCTION))
