"""What a running service learns after training — new items, interactions and friendships — kept in SQLite.

Each write is one transaction (the journal makes it atomic), so a crash or restart loses nothing that was
acknowledged; on start the service replays the log in order.

A state file that lost what it held must never be taken for a new one. Every write also counts up a
sequence number inside the file and, after it commits, in a *mark* file kept apart from it (in the run
folder). On open the file is checked (``PRAGMA quick_check``) and compared with the mark: a damaged file, a
file that is empty or missing although writes were acknowledged, a file behind its mark or a file of another
state all refuse to open with a ``StateError`` that names the file and the way out (restore a backup, or
reset the state on purpose). ``backup`` copies the live file consistently with SQLite's online backup API.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from knowrec._io import read_json, write_json
from knowrec.errors import StateError

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
CREATE TABLE IF NOT EXISTS friendships (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL,
    friend_id TEXT NOT NULL,
    added REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""
MEMORY = ":memory:"
#: A served run's state file and the mark file beside it, in the run folder unless ``--state`` moves the state.
STATE_FILE = "live.sqlite"
MARKS_FILE = "live-marks.json"


@dataclass(frozen=True)
class LiveItem:
    """An item added while serving: its fields (title, genres, …) and ``(relation, entity)`` facts."""

    item_id: str
    fields: dict[str, Any]
    facts: list[tuple[str, str]]


@dataclass(frozen=True)
class Mark:
    """How far a state file had got: its identity and the number of writes committed to it."""

    state_id: str
    seq: int


class Marks:
    """The mark file: per state file (by resolved path), the last ``Mark`` acknowledged. Written atomically."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def _all(self) -> dict[str, Any]:
        if not self.path.is_file():
            return {}
        try:
            marks = read_json(self.path)
        except (OSError, ValueError) as e:
            raise StateError(f"the state mark file {self.path} cannot be read ({e}); it records how far the live "
                             "state had got. Remove it only if you know the state file is complete.") from None
        return marks if isinstance(marks, dict) else {}

    def get(self, state: Path) -> Mark | None:
        entry = self._all().get(str(state.resolve()))
        return None if entry is None else Mark(str(entry["state_id"]), int(entry["seq"]))

    def set(self, state: Path, mark: Mark | None) -> None:
        marks = self._all()
        key = str(state.resolve())
        if mark is None:
            marks.pop(key, None)
        else:
            marks[key] = {"state_id": mark.state_id, "seq": mark.seq}
        write_json(self.path, marks)


def run_state(run: str | Path, state: str | Path | None = None) -> tuple[Path, Marks]:
    """The state file of a served run (``RUN/live.sqlite`` unless ``state`` names another) and its marks, which
    are always kept in the run folder: a state file moved or emptied elsewhere is still checked against them."""
    return (Path(state) if state is not None else Path(run) / STATE_FILE), Marks(Path(run) / MARKS_FILE)


def _way_out(path: str) -> str:
    return (f"Restore it from a backup (knowrec state restore RUN --from BACKUP), or, to start afresh and lose "
            f"what it held, move it aside (knowrec state reset RUN). File: {path}")


class LiveState:
    """The service's append-only log of added items and interactions in an SQLite file (``:memory:`` for tests).

    ``marks`` (a ``Marks`` file, by default ``<file>.mark.json`` beside it) records each committed write, so a
    damaged, emptied or rolled-back file is refused at open instead of silently starting empty.
    """

    def __init__(self, path: str | Path = MEMORY, *, marks: Marks | str | Path | None = None) -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        self.marks = None
        if self.path == MEMORY:
            self._db = sqlite3.connect(MEMORY, check_same_thread=False, isolation_level=None)
            self._db.executescript(SCHEMA)
            self._init_meta()
            return
        file = Path(self.path)
        file.parent.mkdir(parents=True, exist_ok=True)
        self.marks = marks if isinstance(marks, Marks) else Marks(marks or f"{self.path}.mark.json")
        mark = self.marks.get(file)
        had_content = file.is_file() and file.stat().st_size > 0
        if not had_content and mark is not None and mark.seq > 0:
            what = "is empty" if file.is_file() else "is missing"
            raise StateError(f"the live state file {what}, but {mark.seq} writes to it were acknowledged (recorded "
                             f"in {self.marks.path}): it lost what it held and is not a new state. "
                             + _way_out(self.path))
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            _quick_check(self._db)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(SCHEMA)
            self._init_meta()
        except sqlite3.DatabaseError as e:
            raise StateError(f"the live state file is damaged ({e}). " + _way_out(self.path)) from None
        current = self.mark()
        if mark is not None and mark.seq > 0:  # a state that never acknowledged a write loses nothing if replaced
            if mark.state_id != current.state_id:
                raise StateError(f"the live state file is not the one this service wrote (state {current.state_id}, "
                                 f"expected {mark.state_id} from {self.marks.path}). " + _way_out(self.path))
            if current.seq < mark.seq:
                raise StateError(f"the live state file holds {current.seq} writes, but {mark.seq} were acknowledged "
                                 f"(recorded in {self.marks.path}): it is behind what it held. " + _way_out(self.path))
        if mark != current:
            self.marks.set(file, current)

    def _init_meta(self) -> None:
        """Give the file an identity and a write counter (files from before the counter count their rows)."""
        with self._db:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'state_id'").fetchone()
            if row is None:
                rows = sum(self._db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                           for t in ("items", "interactions"))
                self._db.executemany("INSERT INTO meta (key, value) VALUES (?, ?)",
                                     [("state_id", uuid.uuid4().hex), ("seq", str(rows))])

    def mark(self) -> Mark:
        """The file's identity and how many writes it holds."""
        return _mark_of(self._db)

    def _write(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """One transaction: the rows and the counter; then the mark records it."""
        with self._lock:
            with self._db:
                self._db.executemany(sql, rows)
                self._db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'seq'")
            if self.marks is not None:
                self.marks.set(Path(self.path), self.mark())

    def add_item(self, item: LiveItem) -> None:
        """Record a new item (its id must not be recorded yet: ``sqlite3.IntegrityError`` otherwise)."""
        self._write("INSERT INTO items (item_id, fields, facts, added) VALUES (?, ?, ?, ?)",
                    [(item.item_id, json.dumps(item.fields), json.dumps(item.facts), time.time())])

    def add_interactions(self, user_id: str, item_ids: list[str]) -> None:
        """Record that ``user_id`` interacted with ``item_ids``, all in one transaction."""
        now = time.time()
        self._write("INSERT INTO interactions (user_id, item_id, added) VALUES (?, ?, ?)",
                    [(user_id, i, now) for i in item_ids])

    def add_friends(self, user_id: str, friend_ids: list[str]) -> None:
        """Record that ``user_id`` befriended ``friend_ids`` (links of the social graph), in one transaction."""
        now = time.time()
        self._write("INSERT INTO friendships (user_id, friend_id, added) VALUES (?, ?, ?)",
                    [(user_id, f, now) for f in friend_ids])

    def friendships(self) -> list[tuple[str, str]]:
        """The added links ``(user, friend)``, oldest first."""
        return [tuple(row) for row in self._db.execute("SELECT user_id, friend_id FROM friendships ORDER BY seq")]

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
        """How many items, interactions and friendships were added."""
        return {t: self._db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("items", "interactions", "friendships")}

    def backup(self, target: str | Path) -> Path:
        """A consistent copy of the live file at ``target`` (SQLite's online backup: writes may go on)."""
        with self._lock:
            return _copy(self._db, Path(target))

    def close(self) -> None:
        self._db.close()


def _quick_check(db: sqlite3.Connection) -> None:
    (result,) = db.execute("PRAGMA quick_check").fetchone()
    if result != "ok":
        raise sqlite3.DatabaseError(f"integrity check: {result}")


def _mark_of(db: sqlite3.Connection) -> Mark:
    meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    return Mark(meta["state_id"], int(meta["seq"]))


def _copy(source: sqlite3.Connection, target: Path) -> Path:
    """Copy a database with SQLite's backup API into ``target``, which is replaced in one rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        copy = sqlite3.connect(tmp)
        source.backup(copy)
        copy.close()
        for suffix in ("-wal", "-shm"):  # a left-over journal of an older file must not be applied to this one
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _open_checked(path: Path, what: str) -> tuple[sqlite3.Connection, Mark]:
    if not path.is_file() or path.stat().st_size == 0:
        raise StateError(f"no {what} at {path}")
    try:
        db = sqlite3.connect(path)
        _quick_check(db)
        return db, _mark_of(db)
    except (sqlite3.DatabaseError, KeyError) as e:
        raise StateError(f"{path} is not a usable {what} ({e})") from None


def backup(state: str | Path, target: str | Path) -> Mark:
    """Copy the live state file ``state`` to ``target`` while a service may be writing to it; returns what the
    copy holds."""
    db, _ = _open_checked(Path(state), "live state file")
    try:
        _copy(db, Path(target))
    finally:
        db.close()
    return _open_checked(Path(target), "backup")[1]


def restore(state: str | Path, backup: str | Path, marks: Marks | str | Path | None = None) -> Mark:
    """Put ``backup`` in place of the state file ``state`` (the service must be stopped) and accept its writes as
    how far the state got: writes acknowledged after the backup was taken are given up."""
    state = Path(state)
    source, mark = _open_checked(Path(backup), "backup of a live state")  # behind the live file by design
    try:
        _copy(source, state)
    finally:
        source.close()
    marks = marks if isinstance(marks, Marks) else Marks(marks or f"{state}.mark.json")
    marks.set(state, mark)
    return mark


def reset(state: str | Path, marks: Marks | str | Path | None = None) -> Path | None:
    """Move the state file aside (to ``<file>.<time>.aside``) and forget its mark: the next start is a new state.
    Returns where the old file went (``None`` if there was none)."""
    state = Path(state)
    marks = marks if isinstance(marks, Marks) else Marks(marks or f"{state}.mark.json")
    aside = None
    if state.exists():
        aside = state.with_name(f"{state.name}.{time.strftime('%Y%m%dT%H%M%S')}.aside")
        state.replace(aside)
    for suffix in ("-wal", "-shm"):
        part = Path(f"{state}{suffix}")
        if part.exists():
            part.replace(Path(f"{aside or state}{suffix}"))
    marks.set(state, None)
    return aside
