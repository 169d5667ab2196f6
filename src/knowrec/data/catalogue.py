"""``Catalogue``: original ids ↔ positions, and display titles, of a dataset's items (or users) as they are
served — one object that the service and its explainer share, growing as items and users are added."""

from __future__ import annotations

from collections.abc import Sequence

from knowrec.data.dataset import Dataset
from knowrec.errors import UnknownNameError


class Catalogue:
    """Ids in position order, a title per id, and the position of each id; ``add`` appends."""

    def __init__(self, ids: Sequence[str], titles: Sequence[str] | None = None, *, kind: str = "item") -> None:
        self.kind = kind
        self.ids = [str(i) for i in ids]
        self.titles = list(titles) if titles is not None else list(self.ids)
        self._position = {item: i for i, item in enumerate(self.ids)}

    @classmethod
    def items_of(cls, data: Dataset) -> Catalogue:
        return cls(data.item_ids, data.item_titles())

    @classmethod
    def users_of(cls, data: Dataset) -> Catalogue:
        return cls(data.user_ids, kind="user")

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, item_id: object) -> bool:
        return str(item_id) in self._position

    def index(self, item_id: object) -> int:
        """The position of an original id; ``UnknownNameError`` if it is not in the catalogue."""
        try:
            return self._position[str(item_id)]
        except KeyError:
            raise UnknownNameError(f"unknown {self.kind} {str(item_id)!r}") from None

    def add(self, ids: Sequence[str], titles: Sequence[str] | None = None) -> list[int]:
        """Append ids (with their titles, else the ids) and return their positions."""
        start = len(self.ids)
        for item_id in ids:
            self._position[str(item_id)] = len(self.ids)
            self.ids.append(str(item_id))
        self.titles += list(titles) if titles is not None else [str(i) for i in ids]
        return list(range(start, len(self.ids)))
