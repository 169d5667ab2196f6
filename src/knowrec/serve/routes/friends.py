"""A user's friends: who they are, whom to befriend next and why, and new friendships."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from knowrec.serve.deps import Service, Write, authorised
from knowrec.serve.routes import responses
from knowrec.serve.routes.users import K, Limit, UserPath
from knowrec.serve.schemas import Befriended, FriendOut, Friends, FriendSuggestions, NewFriends

router = APIRouter(prefix="/users", tags=["friends"])


@router.get("/{user_id}/friends", responses=responses.UNKNOWN)
async def friends(service: Service, user_id: UserPath, limit: Limit = 100) -> Friends:
    """The user's friends (the dataset's social graph and friendships added since)."""
    mates = service.friends_of(service.user(user_id))
    return Friends(user_id=user_id, total=len(mates), user_ids=[service.users.ids[f] for f in mates[:limit]])


@router.get("/{user_id}/friends/recommendations", responses=responses.UNKNOWN)
async def recommend_friends(service: Service, user_id: UserPath, k: K = 10, explain: bool = False) -> FriendSuggestions:
    """Top-k users to befriend (never the user or a friend); ``explain`` adds mutual friends, items both
    interacted with and the facts both reach."""
    return FriendSuggestions(user_id=user_id, users=[FriendOut.of(s) for s in
                                                     service.recommend_friends(user_id, k, explain=explain)])


@router.post("/{user_id}/friends", dependencies=[Depends(authorised)], responses=responses.WRITE)
async def add_friends(service: Service, write: Write, user_id: UserPath, body: NewFriends) -> Befriended:
    """Record friendships with known users; the next friend and item recommendations reflect them (a new id
    starts a new user, served from their friends at once)."""
    await write(service.prepare_friends, user_id, body.friends)
    return Befriended(user_id=user_id, friends=len(service.friends_of(service.user(user_id))))
