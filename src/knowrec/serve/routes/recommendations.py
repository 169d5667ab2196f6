"""Recommendations for a user the model never saw."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from knowrec.serve.deps import Service
from knowrec.serve.routes import responses
from knowrec.serve.schemas import AdHocUser, Item, Recommendations

router = APIRouter(tags=["recommendations"])


@router.post("/recommendations", responses=responses.BODY)
async def recommend_for(service: Service, user: AdHocUser) -> Recommendations:
    """Top-k for a user the model never saw, from a history, a profile text and/or friends (popularity without)."""
    # the text is encoded in a worker thread (it changes nothing), the rest on the event loop
    profile = None if not user.text else await run_in_threadpool(service.encode_profile, user.text)
    recs = service.recommend_for(user.history, user.text, user.k, explain=user.explain,
                                 exclude_seen=user.exclude_seen, profile=profile, friends=user.friends)
    return Recommendations(items=[Item.of(r) for r in recs])
