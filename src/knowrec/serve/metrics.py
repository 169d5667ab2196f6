"""Prometheus metrics of the service in its own registry: requests and latency by route template, method and
status, every response counted (500s and 413s too). Every label comes from a bounded set, so no client can
grow ``/metrics`` by inventing paths or methods."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Metrics:
    """Request counts and latencies, and catalogue gauges read from ``service`` when scraped."""

    def __init__(self, service: Any) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("knowrec_requests", "HTTP requests", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("knowrec_request_seconds", "Request latency", ["method", "route"],
                                 buckets=(.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5),
                                 registry=self.registry)
        Gauge("knowrec_items", "Items served", registry=self.registry).set_function(lambda: len(service.items))
        Gauge("knowrec_users", "Users known", registry=self.registry).set_function(lambda: len(service.users))

    def observe(self, scope: Scope, status: int, seconds: float) -> None:
        method = scope.get("method", "")
        method = method if method in METHODS else "other"
        route = getattr(scope.get("route"), "path", "unmatched")  # the template, never the raw path
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)


class MeasureRequests:
    """ASGI middleware recording each response's status and latency in ``metrics``."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0 = time.perf_counter()
        status = 500  # what the client gets if the app fails before answering

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            self.metrics.observe(scope, status, time.perf_counter() - t0)
