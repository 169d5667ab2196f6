"""How the service answers what goes wrong: knowrec's errors as 4xx with a message, validation errors that can
always be rendered (whatever was sent), bodies over the limit refused before they are read, and anything
unexpected as one JSON 500 that is logged and counted — the connection stays open."""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from knowrec.errors import ConfigError, ConflictError, DataError, NotSupportedError, UnknownNameError

logger = logging.getLogger(__name__)
STATUS = {UnknownNameError: 404, ConflictError: 409, NotSupportedError: 400, ConfigError: 422, DataError: 422}


class SafeJSONResponse(JSONResponse):
    """JSON with non-ASCII escaped, so text that is not valid Unicode (a lone surrogate) still renders."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


def _safe(value: Any) -> Any:
    """A JSON-safe echo of a bad value: strings escaped and cut short, non-finite numbers as text, no containers."""
    if isinstance(value, str):
        return value[:200].encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return None


def validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    """FastAPI's error list made renderable: locations and bad values escaped, no exception objects."""
    out = []
    for err in exc.errors():
        entry = {"type": err.get("type"), "loc": [_safe(x) for x in err.get("loc", ())], "msg": _safe(err.get("msg"))}
        if "input" in err and _safe(err["input"]) is not None:
            entry["input"] = _safe(err["input"])
        out.append(entry)
    return out


def install_handlers(app: FastAPI) -> None:
    """knowrec's errors → their status; request validation → 422 with a renderable body."""

    def handler(status: int) -> Any:
        async def handle(request: Request, exc: Exception) -> JSONResponse:
            return SafeJSONResponse({"detail": str(exc)}, status_code=status)

        return handle

    for error, status in STATUS.items():
        app.add_exception_handler(error, handler(status))

    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return SafeJSONResponse({"detail": validation_errors(exc)}, status_code=422)

    app.add_exception_handler(RequestValidationError, invalid)

    async def not_allowed(request: Request, exc: Exception) -> JSONResponse:
        """405 with ``Allow`` listing the methods of every route of the path (a path served by two routes,
        GET and POST of ``/users/{id}/friends``, would otherwise name only the first one's)."""
        methods = sorted({m for route in request.app.routes if isinstance(route, Route)
                          and route.matches(request.scope)[0] != Match.NONE for m in (route.methods or ())})
        return SafeJSONResponse({"detail": "Method Not Allowed"}, status_code=405,
                                headers={"Allow": ", ".join(methods)})

    app.add_exception_handler(405, not_allowed)


class Unexpected:
    """Turns an exception no handler took into a logged JSON 500, instead of a dropped connection."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception:
            logger.exception("unexpected error in %s %s", scope.get("method"), scope.get("path"))
            if not started:
                response = SafeJSONResponse({"detail": "internal error; it was logged"}, status_code=500)
                await response(scope, receive, send)


class BodyLimit:
    """Refuses request bodies over ``limit`` bytes with 413 before the app reads them."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD"):
            return await self.app(scope, receive, send)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.limit:
                response = SafeJSONResponse({"detail": f"request body over {self.limit} bytes"}, status_code=413)
                return await response(scope, receive, send)
        body = b"".join(chunks)

        async def replay() -> Message:
            nonlocal body
            message, body = {"type": "http.request", "body": body, "more_body": False}, b""
            return message

        return await self.app(scope, replay, send)
