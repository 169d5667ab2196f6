"""The Neo4j backend's use of the driver, checked with a recording stand-in (no server runs here).

The same contract suite runs against a real server when KNOWREC_NEO4J_URI is set (test_store_contract.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from knowrec.data import Dataset


class FakeDriver:
    def __init__(self) -> None:
        self.queries: list[tuple[str, dict[str, Any]]] = []

    def verify_connectivity(self) -> None:
        pass

    def execute_query(self, query: str, params: dict[str, Any], database_: str | None = None):
        self.queries.append((query, params))
        if "RETURN e.id LIMIT 1" in query:
            return [], None, ["e.id"]
        return [], None, []

    def session(self, database: str | None = None):
        driver = self

        class Session:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

            def run(self, query: str):
                driver.queries.append((query, {}))

                class Result:
                    def consume(self):
                        return None

                return Result()

        return Session()

    def close(self) -> None:
        pass


@pytest.fixture
def fake(monkeypatch) -> FakeDriver:
    import neo4j

    driver = FakeDriver()
    monkeypatch.setattr(neo4j.GraphDatabase, "driver", lambda uri, auth: driver)
    return driver


def test_constraints_batched_loads_and_dialect(fake: FakeDriver, tiny: Dataset) -> None:
    from knowrec.kg.store import open_store

    store = open_store("bolt://127.0.0.1:7687")
    store.batch_size = 7
    assert any("CREATE CONSTRAINT" in q and "REQUIRE e.id IS UNIQUE" in q for q, _ in fake.queries)
    store.load(tiny)
    entity_batches = [p["rows"] for q, p in fake.queries if q.startswith("UNWIND $rows AS r CREATE (:Entity")]
    fact_batches = [p["rows"] for q, p in fake.queries if "CREATE (a)-[:Fact" in q]
    assert sum(map(len, entity_batches)) == tiny.kg.n_entities and max(map(len, entity_batches)) == 7
    assert sum(map(len, fact_batches)) == tiny.kg.n_triples
    assert any("DETACH DELETE" in q and "IN TRANSACTIONS" in q for q, _ in fake.queries)
    store.paths(["i0"], "i1", max_hops=2)
    query, params = fake.queries[-1]
    assert "allShortestPaths" in query and "relationships(p)" in query and params["sources"] == ["i0"]
    store.add_item("new", [("genre", "g:x")])
    assert fake.queries[-1][1]["facts"] == [{"relation": "genre", "tail": "g:x"}]
