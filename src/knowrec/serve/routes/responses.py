"""The documented error answers of the routes (the OpenAPI schema lists them)."""

from __future__ import annotations

from typing import Any

UNKNOWN: dict[int | str, dict[str, Any]] = {404: {"description": "Unknown user or item id"}}
BODY = UNKNOWN | {400: {"description": "Unparseable body, or the model cannot do this"},
                  413: {"description": "Body too large"}}
WRITE = BODY | {401: {"description": "Missing or wrong bearer token"}}
