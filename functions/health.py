"""GET /api/v1/health (public): the seed plan's shape plus the stage. Deliberately imports nothing heavy."""

from __future__ import annotations

import json
import os
from typing import Any

from functions import VERSION
from functions.manifest import STAGE_ENV
from functions.shared.versions import now_timestamp

SERVICE = "mumble-serverless"


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    body = {"status": "healthy", "service": SERVICE, "stage": os.environ.get(STAGE_ENV, "unknown"),
            "version": VERSION, "timestamp": now_timestamp()}
    return {"statusCode": 200, "headers": {"Content-Type": "application/json", "Cache-Control": "no-store"},
            "body": json.dumps(body)}
