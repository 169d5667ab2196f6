"""What a running service learns after training — new items and new interactions — kept in SQLite.

Each write is one transaction (the journal makes it atomic), so a crash or restart loses nothing that was
acknowledged; on start the service replays the log in order.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    item_id TEXT NOT NULL UNIQUE,
    fields TEXT NOT NULL,
    facts TEXT NOT NULL,
    added REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS interactions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    added REAL NOT NULL
);
"""


@dataclass(frozen=True)
class LiveItem:
    """An item added while serving: its fields (title, genres, …) and ``(relation, entity)`` facts."""

    item_id: str
    fields: dict[str, Any]
    facts: list[tuple[str, str]]


class LiveState:
    """The service's append-only log of added items and interactions in an SQLite file (``:memory:`` for tests)."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)

    def add_item(self, item: LiveItem) -> None:
        """Record a new item (its id must not be recorded yet: ``sqlite3.IntegrityError`` otherwise)."""
        with self._lock, self._db:
            self._db.execute("INSERT INTO items (item_id, fields, facts, added) VALUES (?, ?, ?, ?)",
                             (item.item_id, json.dumps(item.fields), json.dumps(item.facts), time.time()))

    def add_interactions(self, user_id: str, item_ids: list[str]) -> None:
        """Record that ``user_id`` interacted with ``item_ids``, all in one transaction."""
        now = time.time()
        with self._lock, self._db:
            self._db.executemany("INSERT INTO interactions (user_id, item_id, added) VALUES (?, ?, ?)",
                                 [(user_id, i, now) for i in item_ids])

    def items(self) -> Iterator[LiveItem]:
        """The added items, oldest first."""
        rows = self._db.execute("SELECT item_id, fields, facts FROM items ORDER BY seq").fetchall()
        for item_id, fields, facts in rows:
            yield LiveItem(item_id, json.loads(fields), [tuple(f) for f in json.loads(facts)])

    def interactions(self) -> dict[str, list[str]]:
        """Each user's added interactions (item ids, oldest first)."""
        out: dict[str, list[str]] = {}
        for user_id, item_id in self._db.execute("SELECT user_id, item_id FROM interactions ORDER BY seq"):
            out.setdefault(user_id, []).append(item_id)
        return out

    def counts(self) -> dict[str, int]:
        """How many items and interactions were added."""
        (items,), (interactions,) = (self._db.execute(f"SELECT count(*) FROM {t}").fetchone()
                                     for t in ("items", "interactions"))
        return {"items": items, "interactions": interactions}

    def close(self) -> None:
        self._db.close()
