"""The HTTP service: FastAPI over a ``RecommenderService`` — JSON in and out, original ids, an OpenAPI schema,
Prometheus metrics, a bearer token on writes, bounded requests, and a small web page at ``/``.

Handlers are ``async`` and run one at a time on the event loop: each takes about a millisecond (a few with
explanations), so serial execution needs no locks around the live model and keeps latency flat.
"""

from __future__ import annotations

import secrets
import time
from importlib import resources
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, StringConstraints
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from knowrec import __version__
from knowrec.errors import ConfigError, ConflictError, DataError, NotSupportedError, UnknownNameError
from knowrec.serve.explain import Explanation
from knowrec.serve.service import Recommendation, RecommenderService

MAX_K = 100
MAX_HISTORY = 1000
MAX_BODY_BYTES = 1 << 20
Id = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(max_length=2000)]
FieldName = Annotated[str, StringConstraints(min_length=1, max_length=64)]
UserPath = Annotated[str, Path(min_length=1, max_length=200, description="Original user id")]
ItemPath = Annotated[str, Path(min_length=1, max_length=200, description="Original item id")]
K = Annotated[int, Query(ge=1, le=MAX_K, description="How many items")]
Offset = Annotated[int, Query(ge=0)]
Limit = Annotated[int, Query(ge=1, le=MAX_HISTORY)]
Credentials = Annotated[HTTPAuthorizationCredentials | None,
                        Depends(HTTPBearer(auto_error=False, description="Needed for writes when the service has one"))]
STATUS = {UnknownNameError: 404, ConflictError: 409, NotSupportedError: 400, ConfigError: 422, DataError: 422}


# --- schemas ----------------------------------------------------------------------------------------------
def _number(value: Any) -> Any:
    """JSON Schema's integers include 76.0 but not "76" or true: lax parsing minus strings and booleans."""
    if isinstance(value, str | bool):
        raise ValueError("expected a number")
    return value


Count = Annotated[int, Strict(False), Field(ge=1, le=MAX_K), BeforeValidator(_number)]


class Body(BaseModel):
    """A request body: types as the schema says (no 0 for false), no unknown keys."""

    model_config = ConfigDict(strict=True, extra="forbid")


class Reason(BaseModel):
    text: str = Field(description="A knowledge-graph path, or the similar history item")
    via: str = Field(description="The history item the reason starts from")
    support: float = Field(description="Similarity of that history item to the recommended one")
    hops: int


class Why(BaseModel):
    kind: Literal["kg", "similar", "none"] = Field(description="kg: graph paths; similar: closest history items")
    reasons: list[Reason]
    sources: dict[str, float] = Field(description="Each source's part of the score (id, kg, text, popularity)")

    @classmethod
    def of(cls, e: Explanation) -> Why:
        return cls(kind=e.kind, reasons=[Reason(**vars(r)) for r in e.reasons], sources=e.sources)


class Item(BaseModel):
    item_id: str
    title: str
    score: float | None = None
    new: bool = Field(False, description="Added while serving; placed because it matches the user's taste")
    explanation: Why | None = None

    @classmethod
    def of(cls, r: Recommendation) -> Item:
        return cls(item_id=r.item_id, title=r.title, score=r.score, new=r.new,
                   explanation=None if r.explanation is None else Why.of(r.explanation))


class Recommendations(BaseModel):
    user_id: str | None = None
    items: list[Item]


class History(BaseModel):
    user_id: str
    total: int = Field(description="How many items the history holds (``items`` shows up to ``limit``)")
    items: list[Item]


class Users(BaseModel):
    total: int
    user_ids: list[str]


class AdHocUser(Body):
    """A user the model never saw: their history (item ids) and/or a profile text."""

    history: list[Id] = Field(default_factory=list, max_length=MAX_HISTORY)
    text: Text | None = None
    k: Count = 10
    explain: bool = False
    exclude_seen: bool = True


class Fact(Body):
    relation: Id
    entity: Id


class NewItem(Body):
    """A new item: text fields (title, genres, description, …) and knowledge-graph facts."""

    item_id: Id
    fields: dict[FieldName, Text | list[Text]] = Field(min_length=1, max_length=32,
                                                       description="At least one, the title say")
    facts: list[Fact] = Field(default_factory=list, max_length=100)


class Added(BaseModel):
    item_id: str
    title: str


class Interactions(Body):
    items: list[Id] = Field(min_length=1, max_length=MAX_HISTORY)


class Recorded(BaseModel):
    user_id: str
    history_size: int


# --- plumbing ---------------------------------------------------------------------------------------------
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
                response = JSONResponse({"detail": f"request body over {self.limit} bytes"}, status_code=413)
                return await response(scope, receive, send)
        body = b"".join(chunks)

        async def replay() -> Message:
            nonlocal body
            message, body = {"type": "http.request", "body": body, "more_body": False}, b""
            return message

        return await self.app(scope, replay, send)


class Metrics:
    """Prometheus request counts and latencies per route, and catalogue gauges, in the app's own registry."""

    def __init__(self, service: RecommenderService) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("knowrec_requests", "HTTP requests", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("knowrec_request_seconds", "Request latency", ["method", "route"],
                                 buckets=(.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5),
                                 registry=self.registry)
        Gauge("knowrec_items", "Items served", registry=self.registry).set_function(lambda: len(service.item_ids))
        Gauge("knowrec_users", "Users known", registry=self.registry).set_function(lambda: len(service.user_ids))

    def observe(self, request: Request, status: int, seconds: float) -> None:
        route = getattr(request.scope.get("route"), "path", "unmatched")
        self.requests.labels(request.method, route, str(status)).inc()
        self.latency.labels(request.method, route).observe(seconds)


def create_app(service: RecommenderService, *, token: str | None = None,
               max_body_bytes: int = MAX_BODY_BYTES) -> FastAPI:
    """The FastAPI app serving ``service``; writes need ``Authorization: Bearer <token>`` when ``token`` is set."""
    app = FastAPI(title="knowrec", version=__version__,
                  description="Knowledge-enhanced recommendations with explanations, new items and users live.")
    metrics = Metrics(service)

    def authorised(credentials: Credentials) -> None:
        if token is None:
            return
        if credentials is None or not secrets.compare_digest(credentials.credentials.encode(), token.encode()):
            raise HTTPException(401, "this write needs a valid bearer token", {"WWW-Authenticate": "Bearer"})

    @app.middleware("http")
    async def measure(request: Request, call_next: Any) -> Response:
        t0 = time.perf_counter()
        response = await call_next(request)
        metrics.observe(request, response.status_code, time.perf_counter() - t0)
        return response

    for error, status in STATUS.items():
        app.add_exception_handler(error, _handler(status))

    unknown: dict[int | str, dict[str, Any]] = {404: {"description": "Unknown user or item id"}}
    body = unknown | {400: {"description": "Unparseable body, or the model cannot do this"},
                      413: {"description": "Body too large"}}
    write = body | {401: {"description": "Missing or wrong bearer token"}}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> str:
        return resources.files("knowrec.serve").joinpath("static/index.html").read_text(encoding="utf-8")

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """What is served and how much was added live."""
        return service.health()

    @app.get("/metrics", include_in_schema=False)
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/users")
    async def users(offset: Offset = 0, limit: Limit = 100) -> Users:
        """Known user ids, a page at a time."""
        return Users(total=len(service.user_ids), user_ids=service.user_ids[offset:offset + limit])

    @app.get("/users/{user_id}/history", responses=unknown)
    async def history(user_id: UserPath, limit: Limit = 50) -> History:
        """The items a user interacted with (training data and interactions added since)."""
        items = service.history(service.user(user_id))
        return History(user_id=user_id, total=len(items), items=[
            Item(item_id=service.item_ids[i], title=service.titles[i]) for i in items[:limit]])

    @app.get("/users/{user_id}/recommendations", responses=unknown)
    async def recommend(user_id: UserPath, k: K = 10, explain: bool = False,
                        exclude_seen: bool = True) -> Recommendations:
        """Top-k for a known user; ``explain`` adds knowledge-graph reasons and the score's sources."""
        recs = service.recommend(user_id, k, explain=explain, exclude_seen=exclude_seen)
        return Recommendations(user_id=user_id, items=[Item.of(r) for r in recs])

    @app.post("/recommendations", responses=body)
    async def recommend_for(user: AdHocUser) -> Recommendations:
        """Top-k for a user the model never saw, from a history and/or a profile text (popularity without)."""
        recs = service.recommend_for(user.history, user.text, user.k, explain=user.explain,
                                     exclude_seen=user.exclude_seen)
        return Recommendations(items=[Item.of(r) for r in recs])

    @app.get("/items/{item_id}/similar", responses=unknown)
    async def similar(item_id: ItemPath, k: K = 10) -> Recommendations:
        """The items closest to an item in the model's item space."""
        return Recommendations(items=[Item.of(r) for r in service.similar(item_id, k)])

    @app.post("/items", status_code=201, dependencies=[Depends(authorised)],
              responses=write | {409: {"description": "An item with this id exists"}})
    async def add_item(item: NewItem) -> Added:
        """Embed and index a new item from its text and facts: recommendable in the next request."""
        index = service.add_item(item.item_id, item.fields, [(f.relation, f.entity) for f in item.facts])
        return Added(item_id=item.item_id, title=service.titles[index])

    @app.post("/users/{user_id}/interactions", dependencies=[Depends(authorised)],
              responses=write)
    async def add_interactions(user_id: UserPath, body: Interactions) -> Recorded:
        """Record interactions; the user's next recommendations reflect them (a new id starts a new user)."""
        return Recorded(user_id=user_id, history_size=service.add_interactions(user_id, body.items))

    app.add_middleware(BodyLimit, limit=max_body_bytes)
    return app


def _handler(status: int) -> Any:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status)

    return handle
