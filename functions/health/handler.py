"""Lambda entry point of the health function (API Gateway HTTP API v2 -> Mangum)."""

from __future__ import annotations

from mangum import Mangum

from core.http import base_path
from health.app import FUNCTION, app

# API Gateway routes are /functions/v1/health as on the local gateway; Mangum strips the base.
handler = Mangum(app, lifespan="off", api_gateway_base_path=base_path(FUNCTION))
