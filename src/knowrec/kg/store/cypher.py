"""The Cypher every backend runs; the few spots where LadybugDB and Neo4j differ are in ``Dialect``."""

from __future__ import annotations

from dataclasses import dataclass


def neighbors(by_relation: bool) -> str:
    """Facts touching the entity ``$id`` (only those of ``$relation`` when ``by_relation``)."""
    where = "a.id = $id" + (" AND f.relation = $relation" if by_relation else "")
    return (f"MATCH (a:Entity)-[f:Fact]-(b:Entity) WHERE {where} "
            "RETURN f.relation AS relation, b.id AS neighbor, b.name AS name, f.head = a.id AS forward "
            "LIMIT $limit")


ITEM_ENTITY = "MATCH (e:Entity) WHERE e.item = $item RETURN e.id LIMIT 1"
ALL_ENTITIES = "MATCH (e:Entity) RETURN e.id AS id, e.item AS item, e.name AS name"
ALL_FACTS = "MATCH (a:Entity)-[f:Fact]->(b:Entity) RETURN a.id AS `from`, b.id AS `to`, f.relation AS relation"
MERGE_ENTITY = ("MERGE (e:Entity {id: $id}) ON CREATE SET e.item = $item, e.name = $name "
                "ON MATCH SET e.item = $item")
ADD_FACTS = ("UNWIND $facts AS f MERGE (t:Entity {id: f.tail}) ON CREATE SET t.item = '', t.name = f.tail "
             "WITH t, f MATCH (h:Entity {id: $head}) CREATE (h)-[:Fact {relation: f.relation, head: $head}]->(t)")
CLEAR = "MATCH (e:Entity) DETACH DELETE e"


@dataclass(frozen=True)
class Dialect:
    """How a backend writes a shortest-path match and projects a path's node ids, relations and heads."""

    shortest: str
    node_ids: str
    node_names: str
    rel_names: str
    rel_heads: str

    def paths(self, max_hops: int) -> str:
        match = self.shortest.format(hops=max_hops)
        return (f"MATCH p = {match} WHERE s.item IN $sources AND t.item = $target AND s.id <> t.id "
                f"RETURN {self.node_ids} AS nodes, {self.rel_names} AS relations, {self.rel_heads} AS heads, "
                f"{self.node_names} AS names "
                f"LIMIT $limit")


LADYBUG = Dialect(
    shortest="(s:Entity)-[:Fact* ALL SHORTEST 1..{hops}]-(t:Entity)",
    node_ids="properties(nodes(p), 'id')",
    node_names="properties(nodes(p), 'name')",
    rel_names="properties(rels(p), 'relation')",
    rel_heads="properties(rels(p), 'head')",
)
NEO4J = Dialect(
    shortest="allShortestPaths((s:Entity)-[:Fact*1..{hops}]-(t:Entity))",
    node_ids="[n IN nodes(p) | n.id]",
    node_names="[n IN nodes(p) | n.name]",
    rel_names="[r IN relationships(p) | r.relation]",
    rel_heads="[r IN relationships(p) | r.head]",
)
