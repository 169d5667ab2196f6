"""Fuzzing the service: schemathesis against its own OpenAPI schema with every check (with and without the
token), then raw bodies no schema describes — non-finite numbers and lone surrogates (issue 10, item 1) —
in any field. Whatever a client sends: no 5xx, and every answer is JSON that parses."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import CHECKS, load_all_checks

from conftest import make_tiny_social
from knowrec.explain import Explainer
from knowrec.models import Hybrid
from knowrec.serve import LiveState, RecommenderService
from knowrec.serve.app import create_app

load_all_checks()
ALL_CHECKS = list(CHECKS.get_all())


def _app() -> Any:
    data = make_tiny_social()  # with friendships: the friend routes are fuzzed over a real graph
    model = Hybrid(epochs=10, batch_size=64, lr=0.02).fit(data, show_progress=False)
    state = LiveState(Path(tempfile.mkdtemp()) / "live.sqlite")
    return create_app(RecommenderService(model, data, state=state, explainer=Explainer(model, data)), token="t")


APP = _app()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.mark.parametrize("headers", [{"Authorization": "Bearer t"}, {}], ids=["token", "no-token"])
@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case, headers: dict[str, str]) -> None:
    case.call_and_validate(headers=headers, checks=ALL_CHECKS)


# --- beyond the schema: what Python's JSON parser takes but no JSON Schema generator sends ---------------
NASTY_STRINGS = st.sampled_from(["\ud800", "a\udfffb", "\udc00" * 3, "i1", "", "x" * 300])
NASTY = st.one_of(st.sampled_from([float("nan"), float("inf"), float("-inf"), 1e308, -0.0]), NASTY_STRINGS,
                  st.integers(-(10**30), 10**30), st.booleans(), st.none())
VALUES = st.recursive(NASTY, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(NASTY_STRINGS, inner, max_size=4)),
                      max_leaves=12)
KEYS = ["history", "text", "k", "explain", "exclude_seen", "item_id", "fields", "facts", "items", "relation",
        "entity", "title", "friends"]
BODIES = st.dictionaries(st.one_of(st.sampled_from(KEYS), NASTY_STRINGS), VALUES, max_size=5)
ROUTES = ["/recommendations", "/items", "/users/u1/interactions", "/users/new/interactions", "/users/u1/friends",
          "/users/new/friends"]


@given(path=st.sampled_from(ROUTES), body=BODIES, token=st.booleans())
@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
def test_raw_bodies_with_non_finite_numbers_and_surrogates(path: str, body: dict, token: bool) -> None:
    raw = json.dumps(body, allow_nan=True, ensure_ascii=True)  # NaN, Infinity and \ud800 escapes, as sent
    client = TestClient(APP, raise_server_exceptions=False)
    headers = {"Content-Type": "application/json"} | ({"Authorization": "Bearer t"} if token else {})
    response = client.post(path, content=raw.encode(), headers=headers)
    assert response.status_code < 500, (raw, response.text)
    json.loads(response.text)  # every answer renders as JSON
