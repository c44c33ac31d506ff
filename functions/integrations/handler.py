"""Lambda entry point of the integrations HTTP API (API Gateway HTTP API v2 -> Mangum -> the
Starlette app). The sync worker and the schedules are in ``integrations.events``."""

from __future__ import annotations

from mangum import Mangum

from core.http import base_path
from integrations import FUNCTION
from integrations.app import app

handler = Mangum(app, lifespan="off", api_gateway_base_path=base_path(FUNCTION))
