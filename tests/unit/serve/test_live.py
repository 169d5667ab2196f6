"""Live state in SQLite: items and interactions survive reopening the file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from knowrec.errors import StateError
from knowrec.serve import LiveItem, LiveState
from knowrec.serve.live import Mark, reset, restore


def test_log_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "state" / "live.sqlite"
    state = LiveState(path)
    state.add_item(LiveItem("n1", {"title": "New", "genres": ["drama"]}, [("genres", "genres:drama")]))
    state.add_interactions("u1", ["n1", "i3"])
    state.add_interactions("u9", ["i1"])
    with pytest.raises(sqlite3.IntegrityError):
        state.add_item(LiveItem("n1", {"title": "Again"}, []))
    state.close()
    back = LiveState(path)
    assert list(back.items()) == [LiveItem("n1", {"title": "New", "genres": ["drama"]}, [("genres", "genres:drama")])]
    assert back.interactions() == {"u1": ["n1", "i3"], "u9": ["i1"]}
    assert back.counts() == {"items": 1, "interactions": 3, "friendships": 0}


def _filled(path: Path) -> LiveState:
    state = LiveState(path)
    for i in range(30):
        state.add_item(LiveItem(f"n{i}", {"title": f"New {i}", "text": "x" * 2000}, [("genres", "genres:drama")]))
        state.add_interactions(f"u{i}", ["n1", "i3"])
    return state


@pytest.mark.parametrize("damage", ["truncate", "random", "empty", "missing"])
def test_item4_a_damaged_or_emptied_state_file_is_refused(tmp_path: Path, damage: str) -> None:
    """Issue 10, item 4: a state file that lost what it held is never taken for a new one."""
    path = tmp_path / "live.sqlite"
    _filled(path).close()
    size = path.stat().st_size
    if damage == "truncate":
        with open(path, "r+b") as f:
            f.truncate(size // 2)
    elif damage == "random":
        path.write_bytes(np.random.default_rng(0).bytes(size))
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        path.unlink()
    for part in ("-wal", "-shm"):
        Path(f"{path}{part}").unlink(missing_ok=True)
    with pytest.raises(StateError) as err:
        LiveState(path)
    message = str(err.value)
    assert str(path) in message and "knowrec state restore" in message and "knowrec state reset" in message
    if damage in ("empty", "missing"):
        assert "60 writes to it were acknowledged" in message


def test_item4_a_state_file_behind_its_mark_or_of_another_state_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "live.sqlite"
    state = _filled(path)
    old = state.backup(tmp_path / "old.sqlite")
    state.add_interactions("u1", ["n2"])
    state.close()
    path.write_bytes(old.read_bytes())  # an old copy put back by hand
    with pytest.raises(StateError, match="holds 60 writes, but 61 were acknowledged"):
        LiveState(path)
    other = LiveState(tmp_path / "other.sqlite")
    other.add_interactions("u1", ["n1"])
    other.close()
    path.write_bytes((tmp_path / "other.sqlite").read_bytes())
    with pytest.raises(StateError, match="not the one this service wrote"):
        LiveState(path)


def test_item4_backup_restore_and_reset(tmp_path: Path) -> None:
    path = tmp_path / "live.sqlite"
    state = _filled(path)
    backup = state.backup(tmp_path / "backups" / "b1.sqlite")  # online: the state stays open and writable
    state.add_interactions("u1", ["n2"])
    state.close()
    path.write_bytes(b"")
    with pytest.raises(StateError):
        LiveState(path)
    assert restore(path, backup) == Mark(LiveState(backup, marks=tmp_path / "m.json").mark().state_id, 60)
    back = LiveState(path)
    assert back.counts() == {"items": 30, "interactions": 60, "friendships": 0}  # the write after the backup: given up
    back.add_interactions("u2", ["n3"])
    back.close()
    with pytest.raises(StateError, match="not a usable backup"):
        restore(path, tmp_path / "live.sqlite.mark.json")
    aside = reset(path)
    assert aside is not None and aside.is_file() and not path.exists()
    fresh = LiveState(path)
    assert fresh.counts() == {"items": 0, "interactions": 0, "friendships": 0}


def test_item4_a_state_written_before_marks_opens_and_is_marked(tmp_path: Path) -> None:
    path = tmp_path / "live.sqlite"
    db = sqlite3.connect(path)
    db.executescript("CREATE TABLE items (seq INTEGER PRIMARY KEY AUTOINCREMENT, item_id TEXT NOT NULL UNIQUE, "
                     "fields TEXT NOT NULL, facts TEXT NOT NULL, added REAL NOT NULL);"
                     "CREATE TABLE interactions (seq INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT NOT NULL, "
                     "item_id TEXT NOT NULL, added REAL NOT NULL);"
                     "INSERT INTO interactions (user_id, item_id, added) VALUES ('u1', 'i1', 0);")
    db.commit()
    db.close()
    state = LiveState(path)
    assert state.interactions() == {"u1": ["i1"]} and state.mark().seq == 1
    state.close()
    path.write_bytes(b"")
    with pytest.raises(StateError, match="1 writes to it were acknowledged"):
        LiveState(path)
