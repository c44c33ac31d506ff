"""Lambda entry point of the assistant HTTP API (API Gateway HTTP API v2 -> Mangum)."""

from __future__ import annotations

from mangum import Mangum

from assistant import FUNCTION
from assistant.app import app
from core.http import base_path

handler = Mangum(app, lifespan="off", api_gateway_base_path=base_path(FUNCTION))
