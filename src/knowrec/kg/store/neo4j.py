"""Neo4j (4.4 and 5) through the official driver, for deployments: same Cypher, batched ``UNWIND`` loads."""

from __future__ import annotations

from typing import Any

import pandas as pd

from knowrec.errors import MissingDependencyError
from knowrec.kg.store import cypher
from knowrec.kg.store.base import GraphStore

SCHEMA = (
    "CREATE CONSTRAINT knowrec_entity_id IF NOT EXISTS FOR (e:Entity) REQUIRE e.id IS UNIQUE",
    "CREATE INDEX knowrec_entity_item IF NOT EXISTS FOR (e:Entity) ON (e.item)",
)
LOAD_ENTITIES = "UNWIND $rows AS r CREATE (:Entity {id: r.id, item: r.item, name: r.name})"
LOAD_FACTS = ("UNWIND $rows AS r MATCH (a:Entity {id: r.from}), (b:Entity {id: r.to}) "
              "CREATE (a)-[:Fact {relation: r.relation, head: r.head}]->(b)")
CLEAR_BATCHED = "MATCH (e:Entity) CALL { WITH e DETACH DELETE e } IN TRANSACTIONS OF 10000 ROWS"


class Neo4jStore(GraphStore):
    """A graph store on a Neo4j server at ``uri`` (``bolt://host:7687`` or ``neo4j://…``)."""

    backend = "neo4j"
    dialect = cypher.NEO4J

    def __init__(self, uri: str, *, user: str = "neo4j", password: str = "", database: str | None = None,
                 batch_size: int = 10_000) -> None:
        try:
            from neo4j import GraphDatabase
        except ImportError as e:
            raise MissingDependencyError("the Neo4j store needs the 'neo4j' driver (pip install neo4j)") from e
        self.uri = uri
        self.database = database
        self.batch_size = batch_size
        self._driver = GraphDatabase.driver(uri, auth=(user, password))
        self._driver.verify_connectivity()
        for stmt in SCHEMA:
            self._df(stmt)

    def _df(self, query: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
        records, _, keys = self._driver.execute_query(query, params or {}, database_=self.database)
        return pd.DataFrame([r.values() for r in records], columns=keys)

    def clear(self) -> None:
        with self._driver.session(database=self.database) as session:  # batched delete needs an implicit transaction
            session.run(CLEAR_BATCHED).consume()

    def _bulk_load(self, entities: pd.DataFrame, facts: pd.DataFrame) -> None:
        for query, frame in ((LOAD_ENTITIES, entities), (LOAD_FACTS, facts)):
            for start in range(0, len(frame), self.batch_size):
                self._df(query, {"rows": frame.iloc[start:start + self.batch_size].to_dict("records")})

    def close(self) -> None:
        self._driver.close()
