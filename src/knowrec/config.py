"""``RunConfig``: every setting of a run, typed; YAML/JSON/TOML files are just its saved form."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from knowrec.data.split import SplitKind
from knowrec.errors import ConfigError, did_you_mean


class RunConfig(BaseModel):
    """Data, split, model and training settings of one run (the protocol defaults are RecBole's for ml-100k)."""

    model_config = ConfigDict(extra="forbid", use_enum_values=False)

    dataset: str = "ml-100k"
    model: str = "lightgcn"
    model_params: dict[str, Any] = Field(default_factory=dict)
    split: SplitKind = SplitKind.RANDOM
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)
    cold_share: float = 0.2
    seed: int = 2020
    min_rating: float | None = None
    user_core: int = 0
    item_core: int = 0
    ks: list[int] = Field(default_factory=lambda: [10, 20])
    valid_metric: str = "ndcg@10"
    patience: int = 20
    eval_every: int = 1
    threads: int = 1

    @field_validator("threads", "patience", "eval_every")
    @classmethod
    def _positive(cls, v: int) -> int:
        if v < 1:
            raise ValueError("must be at least 1")
        return v

    @classmethod
    def build(cls, **values: Any) -> RunConfig:
        """Validate ``values``; errors become one readable ``ConfigError`` with a suggestion."""
        unknown = [k for k in values if k not in cls.model_fields]
        if unknown:
            raise ConfigError(f"unknown setting {unknown[0]!r}." + did_you_mean(unknown[0], list(cls.model_fields)))
        try:
            return cls(**values)
        except ValidationError as e:
            err = e.errors()[0]
            where = ".".join(map(str, err["loc"]))
            raise ConfigError(f"setting {where!r}: {err['msg']} (got {err.get('input')!r})") from None

    @classmethod
    def from_file(cls, path: str | Path) -> RunConfig:
        """Read a config from YAML, JSON or TOML."""
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as e:
            raise ConfigError(f"cannot read config {path}: {e.strerror}") from None
        try:
            if path.suffix == ".json":
                values = json.loads(text)
            elif path.suffix == ".toml":
                values = tomllib.loads(text)
            else:
                values = yaml.safe_load(text) or {}
        except (ValueError, yaml.YAMLError) as e:
            raise ConfigError(f"cannot parse config {path}: {e}") from None
        if not isinstance(values, dict):
            raise ConfigError(f"config {path} must hold a mapping of settings")
        return cls.build(**values)

    def with_overrides(self, pairs: list[str], model_params: list[str] | None = None) -> RunConfig:
        """Apply ``key=value`` strings (values parsed as YAML). ``model.x=…`` or a key that is not a run
        setting sets a model parameter; ``model_params`` names the model's parameters, to catch typos."""
        values = self.model_dump()
        params = dict(values["model_params"])
        for pair in pairs:
            key, eq, raw = pair.partition("=")
            key = key.strip()
            if not eq or not key:
                raise ConfigError(f"--set expects key=value, got {pair!r}")
            value = yaml.safe_load(raw) if raw.strip() else None
            if key.startswith("model."):
                params[key.removeprefix("model.")] = value
            elif key in type(self).model_fields and key != "model_params":
                values[key] = value
            elif model_params is None or key in model_params:
                params[key] = value
            else:
                raise ConfigError(f"unknown setting {key!r}: neither a run setting nor a parameter of model "
                                  f"{self.model!r}." + did_you_mean(key, [*type(self).model_fields, *model_params]))
        values["model_params"] = params
        return type(self).build(**values)
