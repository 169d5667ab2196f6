"""Graph stores: LadybugDB embedded (default) and Neo4j, behind one interface."""

from __future__ import annotations

import os
from pathlib import Path

from knowrec.kg.store.base import GraphStore, KGPath

NEO4J_URI_ENV = "KNOWREC_NEO4J_URI"


def open_store(where: str | Path) -> GraphStore:
    """A folder path (or ``:memory:``) opens LadybugDB; a ``bolt://``/``neo4j://`` URI opens Neo4j, with
    credentials from ``KNOWREC_NEO4J_USER``/``KNOWREC_NEO4J_PASSWORD``."""
    text = str(where)
    if text.split("://", 1)[0] in ("bolt", "neo4j", "bolt+s", "neo4j+s", "bolt+ssc", "neo4j+ssc"):
        from knowrec.kg.store.neo4j import Neo4jStore

        return Neo4jStore(text, user=os.environ.get("KNOWREC_NEO4J_USER", "neo4j"),
                          password=os.environ.get("KNOWREC_NEO4J_PASSWORD", ""))
    from knowrec.kg.store.ladybug import LadybugStore

    return LadybugStore(text)


__all__ = ["NEO4J_URI_ENV", "GraphStore", "KGPath", "open_store"]
