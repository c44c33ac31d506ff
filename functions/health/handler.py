"""Lambda entry point of the health function (API Gateway HTTP API v2 -> Mangum)."""

from __future__ import annotations

from mangum import Mangum

from health.app import app

handler = Mangum(app, lifespan="off")
