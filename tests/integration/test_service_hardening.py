"""Regression tests of issue 10 (hardening) for the HTTP service: what a hostile client sends gets a 4xx, every
answer is counted with bounded labels, a write's slow half does not stall reads, integer ids are ids.

Each test names the item of the issue it guards."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient

from conftest import make_tiny
from knowrec.explain import Explainer
from knowrec.models import Recommender
from knowrec.serve import LiveState, RecommenderService
from knowrec.serve.app import create_app

TOKEN = "secret"
AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


def service(model_dir: Path, state: Path) -> RecommenderService:
    data = make_tiny()
    model = Recommender.load(model_dir)
    return RecommenderService(model, data, state=LiveState(state), explainer=Explainer(model, data))


@pytest.fixture
def client(tiny_hybrid_dir: Path, tmp_path: Path) -> TestClient:
    app = create_app(service(tiny_hybrid_dir, tmp_path / "live.sqlite"), token=TOKEN)
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def server(tiny_hybrid_dir: Path, tmp_path: Path) -> Iterator[tuple[int, RecommenderService]]:
    """A real uvicorn server on loopback in a thread (keep-alive and concurrency as clients see them)."""
    svc = service(tiny_hybrid_dir, tmp_path / "live.sqlite")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(svc, token=TOKEN), host="127.0.0.1", port=port,
                                        log_level="critical"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.05)
    yield port, svc
    srv.should_exit = True
    thread.join(10)


BAD_BODIES = [  # raw JSON as Python's parser takes it: non-finite numbers and lone surrogates
    ("/recommendations", '{"history":["i1"],"k":NaN}'),
    ("/recommendations", '{"history":["i1"],"k":Infinity}'),
    ("/recommendations", '{"history":["i1"],"k":-Infinity}'),
    ("/recommendations", '{"history":["i1"],"k":1e400}'),
    ("/recommendations", '{"history":["\\ud800"]}'),
    ("/recommendations", '{"text":"\\ud800"}'),
    ("/recommendations", '{"text":"ok \\udfff tail"}'),
    ("/items", '{"item_id":NaN,"fields":{"title":"x"}}'),
    ("/items", '{"item_id":"s\\ud800","fields":{"title":"x"}}'),
    ("/items", '{"item_id":"n1","fields":{"\\udc00":"x"}}'),
    ("/items", '{"item_id":"n1","fields":{"title":["a","\\ud800"]}}'),
    ("/items", '{"item_id":"n1","fields":{"title":"x"},"facts":[{"relation":"r","entity":1e400}]}'),
    ("/users/u1/interactions", '{"items":[NaN]}'),
    ("/users/u1/interactions", '{"items":["\\ud800"]}'),
]


@pytest.mark.parametrize(("path", "body"), BAD_BODIES)
def test_item1_non_finite_numbers_and_lone_surrogates_are_4xx(client: TestClient, path: str, body: str) -> None:
    response = client.post(path, content=body.encode(), headers=AUTH)
    assert response.status_code == 422, response.text
    assert response.json()["detail"]  # a body that renders, whatever was sent


def test_item1_keep_alive_survives_a_bad_request(server: tuple[int, RecommenderService]) -> None:
    port, _ = server
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for path, body in BAD_BODIES:
        conn.request("POST", path, body.encode(), AUTH)
        response = conn.getresponse()
        response.read()
        assert response.status == 422
    conn.request("GET", "/users/u0/recommendations?k=3")  # the same connection, still open
    response = conn.getresponse()
    assert response.status == 200 and len(json.loads(response.read())["items"]) == 3


def test_item2_an_unexpected_error_is_a_counted_json_500(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    svc = client.app.state.service

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(svc, "recommend", broken)
    for _ in range(3):
        response = client.get("/users/u0/recommendations")
        assert response.status_code == 500 and response.json() == {"detail": "internal error; it was logged"}
    text = client.get("/metrics").text
    assert 'knowrec_requests_total{method="GET",route="/users/{user_id}/recommendations",status="500"} 3.0' in text


def test_item3_metrics_labels_are_bounded(client: TestClient) -> None:
    for i in range(50):
        client.request(f"BREW{i}", "/users/u0/recommendations")
        client.request(f"BREW{i}", f"/no/such/path/{i}")
        client.get(f"/no/such/path/{i}")
        client.get(f"/users/u{i % 50}/recommendations")
    client.get("/metrics")
    before = client.get("/metrics").text
    for i in range(50, 300):
        assert client.request(f"X{i}", f"/x{i}").status_code in (404, 405)
        client.get(f"/users/u{i % 50}/recommendations")
    after = client.get("/metrics").text
    assert len(after.splitlines()) == len(before.splitlines())  # counts grow, series do not
    assert 'method="other"' in after and 'route="unmatched"' in after and "BREW" not in after


def test_item5_the_text_of_a_request_is_bounded_as_a_whole(client: TestClient) -> None:
    many = {"item_id": "n1", "fields": {"title": ["ab"] * 174_000}}
    t0 = time.perf_counter()
    response = client.post("/items", content=json.dumps(many), headers=AUTH)
    assert response.status_code in (413, 422)
    assert time.perf_counter() - t0 < 2
    spread = {"item_id": "n1", "fields": {f"f{i}": "x" * 1900 for i in range(20)}}  # each under 2,000
    response = client.post("/items", json=spread, headers=AUTH)
    assert response.status_code == 422 and "at most 20,000 are taken" in response.text
    assert client.post("/items", json={"item_id": "n1", "fields": {"title": "A new drama"}},
                       headers=AUTH).status_code == 201


def test_item6_a_slow_write_does_not_stall_reads(server: tuple[int, RecommenderService],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    port, svc = server
    release, entered = threading.Event(), threading.Event()
    embed = svc.model.embed_items

    def slow_embed(*args: object, **kwargs: object) -> object:
        entered.set()
        release.wait(20)
        return embed(*args, **kwargs)

    monkeypatch.setattr(svc.model, "embed_items", slow_embed)
    answers: dict[str, int] = {}

    def post(item_id: str) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", "/items", json.dumps({"item_id": item_id, "fields": {"title": item_id}}), AUTH)
        answers[item_id] = conn.getresponse().status

    writers = [threading.Thread(target=post, args=(f"n{i}",)) for i in range(2)]
    writers[0].start()
    assert entered.wait(10)
    writers[1].start()  # queued behind the first: writes stay ordered, one at a time
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    t0 = time.perf_counter()
    for _ in range(20):
        conn.request("GET", "/users/u0/recommendations?k=5")
        response = conn.getresponse()
        assert response.status == 200
        response.read()
    assert time.perf_counter() - t0 < 2  # reads go on while the write encodes
    assert answers == {}  # nothing acknowledged before it is recorded and served
    release.set()
    for w in writers:
        w.join(30)
    assert answers == {"n0": 201, "n1": 201}
    assert svc.items.ids[-2:] == ["n0", "n1"] and svc.state.counts()["items"] == 2


def test_item14_integer_ids_are_ids(tiny_hybrid_dir: Path, tmp_path: Path) -> None:
    import numpy as np

    from knowrec.data import Dataset

    tiny = make_tiny()
    numeric = Dataset.from_ids("numeric", np.char.lstrip(tiny.user_ids[tiny.users].astype(str), "u"),
                               np.char.lstrip(tiny.item_ids[tiny.items].astype(str), "i"))
    from knowrec.models import BPR

    model = BPR(epochs=3).fit(numeric, show_progress=False)
    client = TestClient(create_app(RecommenderService(model, numeric)))
    as_ints = client.post("/recommendations", json={"history": [1, 2, 3], "k": 5})
    assert as_ints.status_code == 400 and "cannot score users" in as_ints.text  # BPR: the ids were taken
    response = client.post("/recommendations", json={"history": [1, True], "k": 5})
    assert response.status_code == 422  # booleans are not ids
    hybrid = create_app(service(tiny_hybrid_dir, tmp_path / "live.sqlite"), token=TOKEN)
    hc = TestClient(hybrid)
    assert hc.post("/items", json={"item_id": 900, "fields": {"title": "Item 900"}}, headers=AUTH).json() == \
        {"item_id": "900", "title": "Item 900"}
    assert hc.post("/users/u0/interactions", json={"items": [900]}, headers=AUTH).status_code == 200
    assert hc.post("/recommendations", json={"history": [900], "k": 3}).status_code == 200
