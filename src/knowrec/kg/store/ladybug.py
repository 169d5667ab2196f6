"""The embedded default: LadybugDB (the maintained fork of Kùzu), an on-disk Cypher database in-process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from knowrec.errors import MissingDependencyError
from knowrec.kg.store import cypher
from knowrec.kg.store.base import GraphStore

SCHEMA = (
    "CREATE NODE TABLE IF NOT EXISTS Entity(id STRING, item STRING, name STRING, PRIMARY KEY(id))",
    "CREATE REL TABLE IF NOT EXISTS Fact(FROM Entity TO Entity, relation STRING, head STRING)",
)

MAX_DB_BYTES = 1 << 36


class LadybugStore(GraphStore):
    """A graph store in a LadybugDB folder (``path``), or in memory when ``path`` is ``":memory:"``."""

    backend = "ladybug"
    dialect = cypher.LADYBUG

    def __init__(self, path: str | Path = ":memory:") -> None:
        try:
            import ladybug
        except ImportError as e:  # pragma: no cover - ladybug is a core dependency
            raise MissingDependencyError("the embedded graph store needs 'ladybug' (pip install ladybug)") from e
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # the default reserves 8 TiB of address space per database: a process holding ~15 stores (a test
        # session, a service beside a CLI) runs out; 64 GiB is far above any KG knowrec loads
        self._db = ladybug.Database(self.path, max_db_size=MAX_DB_BYTES)
        self._conn = ladybug.Connection(self._db)
        for stmt in SCHEMA:
            self._conn.execute(stmt)

    def _df(self, query: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
        return self._conn.execute(query, params or {}).get_as_df()

    def clear(self) -> None:
        self._conn.execute("DROP TABLE IF EXISTS Fact")
        self._conn.execute("DROP TABLE IF EXISTS Entity")
        for stmt in SCHEMA:
            self._conn.execute(stmt)

    def _bulk_load(self, entities: pd.DataFrame, facts: pd.DataFrame) -> None:
        self._conn.execute("COPY Entity FROM entities")
        self._conn.execute("COPY Fact FROM facts")

    def close(self) -> None:
        self._conn.close()
        self._db.close()
