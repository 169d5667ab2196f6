"""A small generic name → object registry: models, KG embeddings, datasets, formats, metrics, indexes, backends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from knowrec.errors import UnknownNameError, did_you_mean

T = TypeVar("T")


def normalize_name(name: str) -> str:
    """Lower-case a name and drop separators so 'Light-GCN', 'light_gcn' and 'LightGCN' agree."""
    return "".join(ch for ch in name.lower() if ch.isalnum())


class Registry(Generic[T]):
    """Maps normalised names (and aliases) to objects; ``get`` raises ``UnknownNameError`` with hints."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._display: dict[str, str] = {}
        self._aliases: dict[str, str] = {}

    def register(self, name: str, *, aliases: tuple[str, ...] = ()) -> Callable[[T], T]:
        """Decorator registering an object under ``name`` and ``aliases``."""

        def deco(obj: T) -> T:
            key = normalize_name(name)
            if key in self._items:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._items[key] = obj
            self._display[key] = name
            self._aliases[key] = key
            for alias in aliases:
                self._aliases[normalize_name(alias)] = key
            return obj

        return deco

    def component(self, name: str, *, aliases: tuple[str, ...] = ()) -> Callable[[type], type]:
        """Class decorator: register the class under ``name`` (and ``aliases``) and set ``cls.name = name``, the
        name its saved files and ``knowrec models`` show."""

        def deco(cls: type) -> type:
            cls.name = name
            return self.register(name, aliases=aliases)(cls)  # type: ignore[arg-type]

        return deco

    def get(self, name: str) -> T:
        key = self._aliases.get(normalize_name(name))
        if key is None:
            raise UnknownNameError(f"unknown {self.kind} {name!r}." + did_you_mean(name, self.names()))
        return self._items[key]

    def names(self) -> list[str]:
        """The names as registered (not normalised), sorted."""
        return sorted(self._display.values())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and normalize_name(name) in self._aliases

    def __iter__(self) -> Iterator[tuple[str, T]]:
        return iter(sorted((self._display[k], v) for k, v in self._items.items()))
