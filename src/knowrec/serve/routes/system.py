"""What is served and how it is doing: the web page, health and Prometheus metrics."""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from knowrec.serve.deps import Service

router = APIRouter(tags=["system"])


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def page() -> str:
    return resources.files("knowrec.serve").joinpath("static/index.html").read_text(encoding="utf-8")


@router.get("/health")
async def health(service: Service) -> dict[str, Any]:
    """What is served and how much was added live."""
    return service.health()


@router.get("/metrics", include_in_schema=False)
async def prometheus(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
