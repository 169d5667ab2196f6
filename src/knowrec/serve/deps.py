"""What routes share: the served ``RecommenderService``, the bearer-token check on writes, and the writer that
runs a write's slow half off the event loop (reads go on meanwhile) and its quick half on it, one write at a
time, in the order they came."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from knowrec.serve.friends import PendingFriends
from knowrec.serve.service import RecommenderService
from knowrec.serve.writes import PendingItems, PendingUsers

Pending = PendingItems | PendingUsers | PendingFriends


def _service(request: Request) -> RecommenderService:
    return request.app.state.service


Service = Annotated[RecommenderService, Depends(_service)]
Credentials = Annotated[HTTPAuthorizationCredentials | None,
                        Depends(HTTPBearer(auto_error=False, description="Needed for writes when the service has one"))]


def authorised(request: Request, credentials: Credentials) -> None:
    """Writes need ``Authorization: Bearer <token>`` when the service has a token."""
    token = request.app.state.token
    if token is None:
        return
    if credentials is None or not secrets.compare_digest(credentials.credentials.encode(), token.encode()):
        raise HTTPException(401, "this write needs a valid bearer token", {"WWW-Authenticate": "Bearer"})


class Writer:
    """Serialises writes: ``prepare`` (encoding, the state file) runs in a worker thread, then ``commit`` on the
    event loop. A write whose client went away is still finished: once recorded, it is served."""

    def __init__(self, service: RecommenderService) -> None:
        self.service = service
        self._lock = asyncio.Lock()
        self._running: set[asyncio.Task[None]] = set()

    async def __call__(self, prepare: Callable[..., Pending], *args: Any) -> None:
        task = asyncio.ensure_future(self._write(prepare, *args))
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        await asyncio.shield(task)

    async def _write(self, prepare: Callable[..., Pending], *args: Any) -> None:
        async with self._lock:
            pending = await run_in_threadpool(prepare, *args)
            self.service.commit(pending)


def _writer(request: Request) -> Writer:
    return request.app.state.writer


Write = Annotated[Writer, Depends(_writer)]
