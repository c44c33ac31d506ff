"""Lambda entry point of the notify HTTP API (API Gateway HTTP API v2 -> Mangum -> the
Starlette app). The delivery worker and its dispatcher are in ``notify.events``."""

from __future__ import annotations

from mangum import Mangum

from core.http import base_path
from notify import FUNCTION
from notify.app import app

handler = Mangum(app, lifespan="off", api_gateway_base_path=base_path(FUNCTION))
