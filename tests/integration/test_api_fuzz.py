"""schemathesis against the service's own OpenAPI schema: whatever a client sends, no 5xx and responses that
match the schema. The token is configured, so writes are fuzzed both with and without it."""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings

from conftest import make_tiny
from knowrec.models import Hybrid
from knowrec.serve import Explainer, LiveState, RecommenderService
from knowrec.serve.app import create_app


def _app() -> object:
    data = make_tiny()
    model = Hybrid(epochs=10, batch_size=64, lr=0.02).fit(data, show_progress=False)
    state = LiveState(Path(tempfile.mkdtemp()) / "live.sqlite")
    return create_app(RecommenderService(model, data, state=state, explainer=Explainer(model, data)), token="t")


schema = schemathesis.openapi.from_asgi("/openapi.json", _app())


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case) -> None:
    case.call_and_validate(headers={"Authorization": "Bearer t"})
