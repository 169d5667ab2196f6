"""Live state in SQLite: items and interactions survive reopening the file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from knowrec.serve import LiveItem, LiveState


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
    assert back.counts() == {"items": 1, "interactions": 3}
