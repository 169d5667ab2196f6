"""What values a component's parameters may take, and where a search should look, declared beside them.

Each model (any ``Estimator``) declares ``constraints = {"dim": Interval(1, integer=True), ...}``, checked
before anything runs (``check`` raises one ``ConfigError`` naming the parameter, the value and the range, so
``--set dim=-5`` fails at once instead of deep inside torch), and ``search_space = {"lr": Float(1e-4, 1e-2,
log=True), ...}``, the default space of a hyper-parameter search (as PyKEEN's ``hpo_default``). A subclass's
declarations add to and override its bases'. ``parse_space`` reads a space from the command line or a file.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from knowrec.errors import ConfigError


class Constraint:
    """A set of valid values; ``describe`` completes "must be …"."""

    def accepts(self, value: Any) -> bool:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def check(self, owner: str, name: str, value: Any) -> None:
        if not self.accepts(value):
            raise ConfigError(f"{owner} parameter {name} must be {self.describe()}, got {value!r}")


def _is_number(value: Any, integer: bool) -> bool:
    if isinstance(value, bool):
        return False
    if integer:
        return isinstance(value, int)
    return isinstance(value, int | float) and math.isfinite(value)


@dataclass(frozen=True)
class Interval(Constraint):
    """A finite number (an integer with ``integer``) between ``low`` and ``high``; ``open`` ends exclude them."""

    low: float | None = None
    high: float | None = None
    integer: bool = False
    low_open: bool = False
    high_open: bool = False

    def accepts(self, value: Any) -> bool:
        if not _is_number(value, self.integer):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return not (self.high is not None and (value >= self.high if self.high_open else value > self.high))

    def describe(self) -> str:
        kind = "an integer" if self.integer else "a finite number"
        if self.low is not None and self.high is not None:
            left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
            return f"{kind} in {left}{self.low:g}, {self.high:g}{right}"
        if self.low is not None:
            return f"{kind} {'>' if self.low_open else '≥'} {self.low:g}"
        if self.high is not None:
            return f"{kind} {'<' if self.high_open else '≤'} {self.high:g}"
        return kind


@dataclass(frozen=True)
class OneOf(Constraint):
    """One of a few strings (an enum's values)."""

    values: tuple[str, ...]

    @classmethod
    def enum(cls, kind: type[StrEnum]) -> OneOf:
        return cls(tuple(str(v) for v in kind))

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and value in self.values

    def describe(self) -> str:
        return "one of " + ", ".join(self.values)


@dataclass(frozen=True)
class Flag(Constraint):
    """``true`` or ``false``."""

    def accepts(self, value: Any) -> bool:
        return isinstance(value, bool)

    def describe(self) -> str:
        return "true or false"


@dataclass(frozen=True)
class Text(Constraint):
    """A string, non-empty with ``required``; ``valid`` (with its ``what``) checks its form."""

    required: bool = False
    valid: Callable[[str], bool] | None = None
    what: str = ""

    def accepts(self, value: Any) -> bool:
        if not isinstance(value, str) or (self.required and not value.strip()):
            return False
        return self.valid is None or self.valid(value)

    def describe(self) -> str:
        return self.what or ("a non-empty string" if self.required else "a string")


@dataclass(frozen=True)
class SubsetOf(Constraint):
    """A non-empty subset of an enum's values: a sequence of them, or one comma-separated string ("id,kg")."""

    values: tuple[str, ...]

    @classmethod
    def enum(cls, kind: type[StrEnum]) -> SubsetOf:
        return cls(tuple(str(v) for v in kind))

    def accepts(self, value: Any) -> bool:
        names = split_names(value)
        return names is not None and bool(names) and set(names) <= set(self.values)

    def describe(self) -> str:
        return "a non-empty subset of " + ", ".join(self.values) + " (a list, or comma-separated)"


@dataclass(frozen=True)
class Numbers(Constraint):
    """Finite numbers of at least ``low``: a sequence, a comma-separated string, or none at all."""

    low: float = 0.0

    def accepts(self, value: Any) -> bool:
        try:
            numbers = split_numbers(value)
        except (TypeError, ValueError):
            return False
        return all(_is_number(x, False) and x >= self.low for x in numbers)

    def describe(self) -> str:
        return f"numbers ≥ {self.low:g} (a list, or comma-separated), or none"


def split_names(value: Any) -> list[str] | None:
    """``"id, kg"`` or ``["id", "kg"]`` → ``["id", "kg"]`` (lower-cased); ``None`` for anything else."""
    if isinstance(value, str):
        return [v.strip().lower() for v in value.split(",") if v.strip()]
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return [str(v).strip().lower() for v in value]
    return None


def split_numbers(value: Any) -> list[float]:
    """``"1,0.5"``, ``[1, 0.5]`` or ``""`` → a list of floats; ``ValueError``/``TypeError`` if not numbers."""
    if isinstance(value, str):
        return [float(v) for v in value.split(",") if v.strip()]
    if isinstance(value, list | tuple) and not any(isinstance(v, bool) for v in value):
        return [float(v) for v in value]
    raise TypeError(f"not numbers: {value!r}")


# --- search spaces -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Float:
    """A real parameter drawn from ``[low, high]`` (on a log scale with ``log``)."""

    low: float
    high: float
    log: bool = False

    def __str__(self) -> str:
        return f"float:{self.low:g}:{self.high:g}" + (":log" if self.log else "")


@dataclass(frozen=True)
class Int:
    """An integer parameter drawn from ``[low, high]`` (on a log scale with ``log``)."""

    low: int
    high: int
    log: bool = False

    def __str__(self) -> str:
        return f"int:{self.low}:{self.high}" + (":log" if self.log else "")


@dataclass(frozen=True)
class Choice:
    """One of a few values."""

    values: tuple[Any, ...]

    def __str__(self) -> str:
        return "choice:" + ",".join(map(str, self.values))


Dimension = Float | Int | Choice


def parse_dimension(name: str, spec: Any) -> Dimension:
    """``"float:1e-4:1e-2:log"``, ``"int:1:4"``, ``"choice:32,64,128"`` (or a YAML mapping ``{low, high, log}``
    / ``{choices: [...]}``) → a dimension; a bad one is a ``ConfigError`` naming the parameter."""
    import yaml

    try:
        if isinstance(spec, dict):
            if "choices" in spec:
                return Choice(tuple(spec["choices"]))
            integer = isinstance(spec["low"], int) and isinstance(spec["high"], int) and not spec.get("float")
            kind = Int if integer else Float
            return kind(spec["low"], spec["high"], bool(spec.get("log", False)))
        kind, _, rest = str(spec).partition(":")
        if kind == "choice":
            return Choice(tuple(yaml.safe_load(v.strip()) for v in rest.split(",") if v.strip()))
        parts = rest.split(":")
        log = len(parts) == 3 and parts[2] == "log"
        if kind in ("float", "int") and len(parts) in (2, 3) and (len(parts) == 2 or log):
            low, high = (float(parts[0]), float(parts[1])) if kind == "float" else (int(parts[0]), int(parts[1]))
            if low < high and (not log or low > 0):
                return Float(low, high, log) if kind == "float" else Int(int(low), int(high), log)
    except (KeyError, TypeError, ValueError):
        pass
    raise ConfigError(f"search space of {name}: cannot read {spec!r}; write float:LOW:HIGH[:log], int:LOW:HIGH[:log] "
                      "or choice:A,B,C (LOW < HIGH, LOW > 0 on a log scale)")


def parse_space(specs: Iterable[str] | dict[str, Any]) -> dict[str, Dimension]:
    """``["lr=float:1e-4:1e-2:log", "layers=int:1:4"]`` or a mapping of name → spec → dimensions."""
    if isinstance(specs, dict):
        return {str(k): parse_dimension(str(k), v) for k, v in specs.items()}
    out = {}
    for pair in specs:
        name, eq, spec = pair.partition("=")
        if not eq or not name.strip():
            raise ConfigError(f"--space expects name=spec (lr=float:1e-4:1e-2:log), got {pair!r}")
        out[name.strip()] = parse_dimension(name.strip(), spec.strip())
    return out


def merged(classes: Iterable[type], attribute: str = "constraints") -> dict[str, Any]:
    """The ``attribute`` dicts of ``classes`` (an MRO, most derived first), later bases overridden by earlier ones."""
    out: dict[str, Any] = {}
    for cls in reversed(list(classes)):
        out.update(vars(cls).get(attribute, {}))
    return out


#: Shorthands used across the models.
POSITIVE_INT = Interval(1, integer=True)
NON_NEGATIVE_INT = Interval(0, integer=True)
POSITIVE = Interval(0, low_open=True)
NON_NEGATIVE = Interval(0)
RATE = Interval(0, 1, high_open=True)  # a dropout share
