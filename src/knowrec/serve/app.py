"""The HTTP service: FastAPI over a ``RecommenderService`` — JSON in and out, original ids, an OpenAPI schema,
Prometheus metrics, a bearer token on writes, bounded requests, and a small web page at ``/``.

Reads are ``async`` and run on the event loop, one at a time: each takes about a millisecond (a few with
explanations), so they need no locks around the live model. A write's slow half (text encoding, the state
file) runs in a worker thread meanwhile, its quick half on the loop (``deps.Writer``).
"""

from __future__ import annotations

from fastapi import FastAPI

from knowrec._version import __version__
from knowrec.serve.deps import Writer
from knowrec.serve.errors import BodyLimit, Unexpected, install_handlers
from knowrec.serve.metrics import MeasureRequests, Metrics
from knowrec.serve.routes import friends, items, recommendations, system, users
from knowrec.serve.schemas import MAX_BODY_BYTES
from knowrec.serve.service import RecommenderService


def create_app(service: RecommenderService, *, token: str | None = None,
               max_body_bytes: int = MAX_BODY_BYTES) -> FastAPI:
    """The FastAPI app serving ``service``; writes need ``Authorization: Bearer <token>`` when ``token`` is set."""
    app = FastAPI(title="knowrec", version=__version__,
                  description="Knowledge-enhanced recommendations with explanations, new items and users live.")
    app.state.service, app.state.token = service, token
    app.state.writer, app.state.metrics = Writer(service), Metrics(service)
    install_handlers(app)
    for router in (system.router, users.router, friends.router, recommendations.router, items.router):
        app.include_router(router)
    app.add_middleware(Unexpected)  # innermost of these three: what escapes every handler becomes a 500 ...
    app.add_middleware(BodyLimit, limit=max_body_bytes)
    app.add_middleware(MeasureRequests, metrics=app.state.metrics)  # ... and every answer is counted
    return app
