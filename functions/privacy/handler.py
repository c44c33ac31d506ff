"""Lambda entry point of the privacy HTTP API (API Gateway HTTP API v2 -> Mangum -> the
Starlette app). The queue worker, the dispatcher and the schedules are in
``privacy.events``, so those Lambdas do not build the HTTP app."""

from __future__ import annotations

from mangum import Mangum

from core.http import base_path
from privacy import FUNCTION
from privacy.app import app

handler = Mangum(app, lifespan="off", api_gateway_base_path=base_path(FUNCTION))
