"""The HTTP service's contract: recommendations, explanations, new items and interactions (persisted across a
restart), bounds and errors as 4xx with a message, the token on writes, Prometheus metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from conftest import make_tiny
from knowrec.data import Dataset
from knowrec.explain import Explainer
from knowrec.models import BPR, Recommender
from knowrec.serve import LiveState, RecommenderService
from knowrec.serve.app import create_app

TOKEN = "s3cret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
DRAMA = {f"i{i}" for i in range(20)}  # the first taste cluster's items (users u0..u24)


def start(model_dir: Path, state: Path, *, token: str | None = TOKEN, **options: object) -> TestClient:
    data = make_tiny()
    model = Recommender.load(model_dir)
    service = RecommenderService(model, data, state=LiveState(state), explainer=Explainer(model, data), **options)
    return TestClient(create_app(service, token=token), raise_server_exceptions=True)


@pytest.fixture
def client(tiny_hybrid_dir: Path, tmp_path: Path) -> TestClient:
    return start(tiny_hybrid_dir, tmp_path / "live.sqlite")


def top(client: TestClient, user: str, k: int = 10) -> list[str]:
    response = client.get(f"/users/{user}/recommendations", params={"k": k})
    assert response.status_code == 200, response.text
    return [i["item_id"] for i in response.json()["items"]]


def test_recommendations_with_explanations(client: TestClient) -> None:
    health = client.get("/health").json()
    assert health | {"added": None} == {"status": "ok", "model": "hybrid", "dataset": "tiny", "index": "exact",
                                        "users": 50, "items": 40, "friendships": 0, "added": None}
    shown = client.get("/users/u0/history", params={"limit": 100}).json()
    history = {i["item_id"] for i in shown["items"]}
    assert shown["total"] == len(history) == 10
    assert len(client.get("/users/u0/history", params={"limit": 3}).json()["items"]) == 3
    body = client.get("/users/u0/recommendations", params={"k": 5, "explain": "true"}).json()
    items = body["items"]
    assert body["user_id"] == "u0" and len(items) == 5 and not {i["item_id"] for i in items} & history
    assert sum(i["item_id"] in DRAMA for i in items) >= 4
    assert [i["score"] for i in items] == sorted((i["score"] for i in items), reverse=True)
    why = items[0]["explanation"]
    assert why["kind"] == "kg" and why["reasons"] and why["reasons"][0]["text"].startswith("same genre (")
    first = why["reasons"][0]
    assert first["basis"] == "kg" and first["weak"] and first["evidence"] >= 1 and "genres:" in first["path"]
    assert set(why["sources"]) == {"id", "kg", "text", "popularity"}
    assert np.isclose(sum(why["sources"].values()), items[0]["score"], atol=1e-3)
    with_seen = top(client, "u0", 40)
    assert len(with_seen) == 40 - len(history)
    assert client.get("/users/u0/recommendations", params={"k": 40, "exclude_seen": "false"}).json()["items"][39]


def test_unseen_users_and_similar_items(client: TestClient) -> None:
    body = client.post("/recommendations", json={"history": ["i0", "i1", "i2", "i3"], "k": 5, "explain": True})
    items = [i["item_id"] for i in body.json()["items"]]
    assert len(items) == 5 and sum(i in DRAMA for i in items) >= 4 and not {"i0", "i1", "i2", "i3"} & set(items)
    assert body.json()["items"][0]["explanation"]["kind"] == "kg"
    fallback = client.post("/recommendations", json={}).json()["items"]  # nothing known: popularity
    assert len(fallback) == 10
    similar = [i["item_id"] for i in client.get("/items/i25/similar", params={"k": 5}).json()["items"]]
    assert "i25" not in similar and sum(i not in DRAMA for i in similar) >= 4


@pytest.mark.parametrize(("method", "path", "body", "status", "message"), [
    ("get", "/users/nobody/recommendations", None, 404, "unknown user 'nobody'"),
    ("get", "/users/nobody/history", None, 404, "unknown user"),
    ("get", "/items/nothing/similar", None, 404, "unknown item 'nothing'"),
    ("get", "/users/u0/recommendations?k=0", None, 422, "greater than or equal to 1"),
    ("get", "/users/u0/recommendations?k=101", None, 422, "less than or equal to 100"),
    ("get", "/users/u0/recommendations?k=ten", None, 422, "valid integer"),
    ("post", "/recommendations", {"history": ["i0", "ghost"]}, 404, "unknown item 'ghost'"),
    ("post", "/recommendations", {"history": ["i0"] * 1001}, 422, "at most 1000"),
    ("post", "/recommendations", {"history": "i0"}, 422, "valid list"),
    ("post", "/items", {"item_id": "n0", "facts": [{"relation": "genres", "entity": "x"}]}, 422, "Field required"),
    ("post", "/items", {"item_id": "n0", "fields": {}}, 422, "at least 1 item"),
    ("post", "/items", {"item_id": "i3", "fields": {"title": "Again"}}, 409, "exists already"),
    ("post", "/items", {"item_id": "n0", "fields": {"title": "x" * 2001}}, 422, "at most 2000"),
    ("post", "/users/u0/interactions", {"items": []}, 422, "at least 1"),
    ("post", "/users/u0/interactions", {"items": ["ghost"]}, 404, "unknown item 'ghost'"),
])
def test_bad_requests_get_4xx_with_a_message(client: TestClient, method: str, path: str, body: object,
                                              status: int, message: str) -> None:
    response = getattr(client, method)(path, **({} if body is None else {"json": body}), headers=AUTH)
    assert response.status_code == status, response.text
    assert message in response.text


def test_malformed_and_oversized_bodies(client: TestClient) -> None:
    response = client.post("/recommendations", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 422 and "JSON decode error" in response.text
    response = client.post("/recommendations", content=b"[" + b"1," * 600_000 + b"1]",
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and "over 1048576 bytes" in response.text


def test_writes_need_the_token(client: TestClient) -> None:
    new = {"item_id": "n1", "fields": {"title": "New drama"}}
    assert client.post("/items", json=new).status_code == 401
    assert client.post("/items", json=new, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.post("/users/u0/interactions", json={"items": ["i1"]}).status_code == 401
    assert client.post("/items", json=new, headers=AUTH).status_code == 201


def test_new_items_and_interactions_are_live_and_survive_a_restart(tiny_hybrid_dir: Path, tmp_path: Path) -> None:
    client = start(tiny_hybrid_dir, tmp_path / "live.sqlite")
    drama = {"item_id": "n-drama", "fields": {"title": "Item 900", "genres": ["drama"]},
             "facts": [{"relation": "genres", "entity": "genres:drama"}]}
    comedy = {"item_id": "n-comedy", "fields": {"title": "Item 901", "genres": ["comedy", "family"]},
              "facts": [{"relation": "genres", "entity": "genres:comedy"}]}
    for item in (drama, comedy):
        response = client.post("/items", json=item, headers=AUTH)
        assert response.status_code == 201 and response.json()["title"] == item["fields"]["title"]
    fans = [f"u{u}" for u in range(25)]
    ranks = [top(client, u, 40) for u in fans]
    assert np.mean([r.index("n-drama") < r.index("n-comedy") for r in ranks]) > 0.9
    assert np.mean(["n-drama" in r[:10] for r in ranks]) > 0.5  # recommended at once to those it suits
    why = client.get("/users/u0/recommendations", params={"k": 40, "explain": "true"}).json()["items"]
    (new,) = [i for i in why if i["item_id"] == "n-drama"]
    assert new["explanation"]["kind"] == "kg" and new["explanation"]["reasons"][0]["path"].endswith("Item 900")
    assert new["explanation"]["reasons"][0]["text"].startswith("same genre (drama) as ")

    assert client.post("/users/u0/interactions", json={"items": ["n-drama"]}, headers=AUTH).json() == \
        {"user_id": "u0", "history_size": 11}
    assert "n-drama" not in top(client, "u0", 40)
    # a user the model never saw becomes one with their first interactions
    assert client.post("/users/newbie/interactions", json={"items": ["i25", "i26", "i27"]},
                       headers=AUTH).json()["history_size"] == 3
    assert sum(i not in DRAMA for i in top(client, "newbie", 5)) >= 4
    before = {u: top(client, u) for u in ("u0", "u30", "newbie")}

    restarted = start(tiny_hybrid_dir, tmp_path / "live.sqlite")
    assert restarted.get("/health").json()["added"] == {"items": 2, "interactions": 4, "friendships": 0}
    assert {u: top(restarted, u) for u in before} == before
    history = restarted.get("/users/u0/history", params={"limit": 100}).json()
    assert history["total"] == 11 and "n-drama" in {i["item_id"] for i in history["items"]}
    assert restarted.get("/items/n-comedy/similar").status_code == 200


def test_prometheus_metrics(client: TestClient) -> None:
    top(client, "u1")
    client.get("/users/nobody/recommendations")
    text = client.get("/metrics").text
    assert 'knowrec_requests_total{method="GET",route="/users/{user_id}/recommendations",status="200"} 1.0' in text
    assert 'status="404"' in text and "knowrec_request_seconds_bucket" in text and "knowrec_items 40.0" in text


def test_a_model_without_content_serves_but_cannot_add(tiny: Dataset, tmp_path: Path) -> None:
    model = BPR(epochs=5).fit(tiny, show_progress=False)
    client = TestClient(create_app(RecommenderService(model, tiny, index="hnsw")))
    assert len(top(client, "u0", 5)) == 5
    response = client.post("/items", json={"item_id": "n", "fields": {"title": "x"}})
    assert response.status_code == 400 and "cannot add items" in response.text
    assert client.post("/recommendations", json={"history": ["i1"]}).status_code == 400


def test_the_page_is_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "<title>knowrec</title>" in page.text
    schema = client.get("/openapi.json").json()
    assert {"/users/{user_id}/recommendations", "/recommendations", "/items", "/items/{item_id}/similar",
            "/users/{user_id}/interactions", "/health"} <= set(schema["paths"])


def test_fresh_places_go_to_new_items_that_match_the_taste(tiny_hybrid_dir: Path, tmp_path: Path) -> None:
    def first_three(fresh: int) -> list[list[dict]]:
        client = start(tiny_hybrid_dir, tmp_path / f"live-{fresh}.sqlite", fresh=fresh)
        item = {"item_id": "n-drama", "fields": {"title": "Item 900", "genres": ["drama"]},
                "facts": [{"relation": "genres", "entity": "genres:drama"}]}
        assert client.post("/items", json=item, headers=AUTH).status_code == 201
        return [client.get(f"/users/u{u}/recommendations", params={"k": 3}).json()["items"] for u in range(50)]

    plain, fresh = first_three(0), first_three(1)
    in_plain = [any(i["item_id"] == "n-drama" for i in items) for items in plain]
    in_fresh = [any(i["item_id"] == "n-drama" for i in items) for items in fresh]
    assert sum(in_fresh[:25]) > sum(in_plain[:25]) and sum(in_fresh[:25]) >= 12  # most drama fans get it
    assert sum(in_fresh[25:]) <= 2  # comedy fans do not: it is not their taste
    for items, had in zip(fresh, in_plain, strict=True):
        assert len(items) == 3
        flagged = [i for i in items if i["new"]]
        assert all(i["item_id"] == "n-drama" for i in flagged) and (not had or not flagged)
