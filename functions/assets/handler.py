"""Lambda entry point of the assets HTTP API (API Gateway HTTP API v2 -> Mangum -> the
Starlette app). The worker, the dispatcher and the poller are in ``assets.events``."""

from __future__ import annotations

from mangum import Mangum

from assets import FUNCTION
from assets.app import app
from core.http import base_path

handler = Mangum(app, lifespan="off", api_gateway_base_path=base_path(FUNCTION))
