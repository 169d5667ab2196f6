"""Known users: their ids, histories, recommendations, and new interactions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from knowrec.serve.deps import Service, Write, authorised
from knowrec.serve.routes import responses
from knowrec.serve.schemas import MAX_HISTORY, MAX_K, Interactions, Item, Recommendations, Recorded, UserHistory, Users

router = APIRouter(prefix="/users", tags=["users"])
UserPath = Annotated[str, Path(min_length=1, max_length=200, description="Original user id")]
K = Annotated[int, Query(ge=1, le=MAX_K, description="How many items")]
Limit = Annotated[int, Query(ge=1, le=MAX_HISTORY)]


@router.get("")
async def users(service: Service, offset: Annotated[int, Query(ge=0)] = 0, limit: Limit = 100) -> Users:
    """Known user ids, a page at a time."""
    return Users(total=len(service.users), user_ids=service.users.ids[offset:offset + limit])


@router.get("/{user_id}/history", responses=responses.UNKNOWN)
async def history(service: Service, user_id: UserPath, limit: Limit = 50) -> UserHistory:
    """The items a user interacted with (training data and interactions added since)."""
    items = service.history(service.user(user_id))
    return UserHistory(user_id=user_id, total=len(items), items=[
        Item(item_id=service.items.ids[i], title=service.items.titles[i]) for i in items[:limit]])


@router.get("/{user_id}/recommendations", responses=responses.UNKNOWN)
async def recommend(service: Service, user_id: UserPath, k: K = 10, explain: bool = False,
                    exclude_seen: bool = True) -> Recommendations:
    """Top-k for a known user; ``explain`` adds knowledge-graph reasons and the score's sources."""
    recs = service.recommend(user_id, k, explain=explain, exclude_seen=exclude_seen)
    return Recommendations(user_id=user_id, items=[Item.of(r) for r in recs])


@router.post("/{user_id}/interactions", dependencies=[Depends(authorised)], responses=responses.WRITE)
async def add_interactions(service: Service, write: Write, user_id: UserPath, body: Interactions) -> Recorded:
    """Record interactions; the user's next recommendations reflect them (a new id starts a new user)."""
    await write(service.prepare_interactions, user_id, body.items)
    return Recorded(user_id=user_id, history_size=len(service.history(service.user(user_id))))
