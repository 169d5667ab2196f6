"""The service's friends (issue 14): suggestions with reasons over the friendships of the moment, new friendships
persisted and reflected in the next friend and item answers, and a user known only by a friend list served at
once — through the API, without retraining."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from conftest import make_tiny_social
from knowrec.explain import Explainer
from knowrec.models import Recommender
from knowrec.serve import LiveState, RecommenderService
from knowrec.serve.app import create_app

AUTH = {"Authorization": "Bearer f"}
DRAMA = {f"i{i}" for i in range(20)}  # the first taste cluster's items (users u0..u24, friends mostly inside it)


def start(model_dir: Path, state: Path, **options: object) -> TestClient:
    data = make_tiny_social()
    model = Recommender.load(model_dir)
    service = RecommenderService(model, data, state=LiveState(state), explainer=Explainer(model, data), **options)
    return TestClient(create_app(service, token="f"))


def suggestions(client: TestClient, user: str, k: int = 5, explain: bool = False) -> list[dict]:
    response = client.get(f"/users/{user}/friends/recommendations", params={"k": k, "explain": explain})
    assert response.status_code == 200, response.text
    return response.json()["users"]


def items(client: TestClient, user: str, k: int = 10) -> list[str]:
    response = client.get(f"/users/{user}/recommendations", params={"k": k})
    assert response.status_code == 200, response.text
    return [i["item_id"] for i in response.json()["items"]]


def test_suggested_friends_come_with_reasons_and_skip_friends(tiny_hybrid_dir: Path, tmp_path: Path) -> None:
    client = start(tiny_hybrid_dir, tmp_path / "live.sqlite")
    friends = set(client.get("/users/u1/friends").json()["user_ids"])
    got = suggestions(client, "u1", k=10, explain=True)
    ids = [s["user_id"] for s in got]
    assert len(ids) == 10 and "u1" not in ids and not friends & set(ids)
    assert sum(int(i[1:]) < 25 for i in ids) >= 8  # u1's cluster: friends are drawn inside it
    first = got[0]
    assert first["mutual_friends"] > 0 and first["reasons"][0]["kind"] == "mutual friends"
    assert first["explanation"].startswith(f"you and user {first['user_id']}: ")
    assert [s["score"] for s in got] == sorted((s["score"] for s in got), reverse=True)


def test_a_new_friendship_is_reflected_and_survives_a_restart(tiny_hybrid_dir: Path, tmp_path: Path) -> None:
    client = start(tiny_hybrid_dir, tmp_path / "live.sqlite", social_weight=1.0)
    target = suggestions(client, "u1")[0]["user_id"]
    before = items(client, "u1")
    comedy = [f"u{i}" for i in range(30, 40)]
    response = client.post("/users/u1/friends", json={"friends": [target, *comedy]}, headers=AUTH)
    assert response.status_code == 200 and response.json()["friends"] == 11 + 11
    assert target not in {s["user_id"] for s in suggestions(client, "u1", k=20)}
    assert items(client, "u1") != before  # ten comedy fans as friends move u1's items at weight 1
    assert client.post("/users/u1/friends", json={"friends": [target]}, headers=AUTH).json()["friends"] == 22
    restarted = start(tiny_hybrid_dir, tmp_path / "live.sqlite", social_weight=1.0)
    assert restarted.get("/health").json()["added"]["friendships"] == 11  # the repeat was not recorded
    assert set(restarted.get("/users/u1/friends").json()["user_ids"]) >= {target, *comedy}
    assert items(restarted, "u1") == items(client, "u1")


def test_a_user_with_only_friends_is_served_at_once(tiny_hybrid_dir: Path, tmp_path: Path) -> None:
    client = start(tiny_hybrid_dir, tmp_path / "live.sqlite")
    assert client.get("/users/newbie/friends/recommendations").status_code == 404
    drama_fans = [f"u{i}" for i in range(5)]
    assert client.post("/users/newbie/friends", json={"friends": drama_fans}, headers=AUTH).status_code == 200
    assert len(DRAMA & set(items(client, "newbie"))) >= 8  # their friends' taste
    suggested = suggestions(client, "newbie", k=5, explain=True)
    assert all(int(s["user_id"][1:]) < 25 for s in suggested[:3]) and suggested[0]["mutual_friends"] >= 1
    ad_hoc = client.post("/recommendations", json={"friends": drama_fans, "k": 10}).json()["items"]
    assert [i["item_id"] for i in ad_hoc] == items(client, "newbie")
    restarted = start(tiny_hybrid_dir, tmp_path / "live.sqlite")
    assert items(restarted, "newbie") == items(client, "newbie")


def test_bad_friend_writes_get_4xx(tiny_hybrid_dir: Path, tmp_path: Path) -> None:
    client = start(tiny_hybrid_dir, tmp_path / "live.sqlite")
    assert client.post("/users/u1/friends", json={"friends": ["u2"]}).status_code == 401
    unknown = client.post("/users/u1/friends", json={"friends": ["nobody"]}, headers=AUTH)
    assert unknown.status_code == 404 and "nobody" in unknown.text
    oneself = client.post("/users/u1/friends", json={"friends": ["u1"]}, headers=AUTH)
    assert oneself.status_code == 422 and "befriend themselves" in oneself.text
    assert client.post("/users/u1/friends", json={"friends": []}, headers=AUTH).status_code == 422
    assert client.get("/users/nobody/friends").status_code == 404
    assert client.get("/health").json()["added"]["friendships"] == 0  # nothing bad was recorded
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/users/{user_id}/friends", "/users/{user_id}/friends/recommendations"} <= set(paths)
