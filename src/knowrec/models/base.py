"""The estimator contract (scikit-learn's rules: parameters stored by ``__init__``, their valid values and search
space declared beside them, learned state ending in ``_``; one save/load for every registered component) and the
``Recommender`` surface (implicit's: batch-first ``recommend``, ``similar_items``, ``score``).

How gradient models train lives apart: ``knowrec.models.gradient`` says what to train, ``knowrec.train`` how.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp
import torch
from safetensors.torch import load_file, save_file

from knowrec._io import atomic_dir, read_json, write_json
from knowrec._version import __version__
from knowrec.data.dataset import Dataset
from knowrec.data.social import FRIENDS
from knowrec.devices import to_device
from knowrec.errors import ConfigError, MissingInputError, NotFittedError, NotSupportedError, did_you_mean
from knowrec.params import Constraint, Dimension, merged
from knowrec.registry import Registry
from knowrec.train.callbacks import Callback

logger = logging.getLogger(__name__)

MODELS: Registry[type[Recommender]] = Registry("model")
PARAMS_FILE = "params.json"
WEIGHTS_FILE = "weights.safetensors"


class Estimator:
    """scikit-learn's conventions: keyword-only hyperparameters stored unchanged by ``__init__``, and, declared
    beside them, the values each may take (``constraints``, checked by ``check_params`` before fitting)."""

    constraints: ClassVar[dict[str, Constraint]] = {}
    #: Where a hyper-parameter search looks by default (``knowrec tune``); parameters not named stay fixed.
    search_space: ClassVar[dict[str, Dimension]] = {}

    @classmethod
    def param_constraints(cls) -> dict[str, Constraint]:
        """Each parameter's valid values, from this class and its bases."""
        return merged(cls.__mro__)

    @classmethod
    def param_space(cls) -> dict[str, Dimension]:
        """The default search space, from this class and its bases (only this model's own parameters)."""
        names = set(cls.param_names())
        return {k: v for k, v in merged(cls.__mro__, "search_space").items() if k in names}

    def check_params(self) -> None:
        """Raise ``ConfigError`` naming the first parameter whose value is outside its declared range."""
        declared = self.param_constraints()
        owner = getattr(self, "name", "") or type(self).__name__
        for name in self.param_names():
            if name in declared:
                declared[name].check(owner, name, getattr(self, name))

    @classmethod
    def param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values() if p.kind is p.KEYWORD_ONLY]

    @classmethod
    def param_defaults(cls) -> dict[str, Any]:
        """Each parameter's default value."""
        sig = inspect.signature(cls.__init__)
        return {p.name: p.default for p in sig.parameters.values() if p.kind is p.KEYWORD_ONLY}

    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.param_names()}

    def set_params(self, **params: Any) -> Self:
        unknown = set(params) - set(self.param_names())
        if unknown:
            bad = sorted(unknown)[0]
            raise ConfigError(f"{type(self).__name__} has no parameter {bad!r}."
                              + did_you_mean(bad, self.param_names()))
        for key, value in params.items():
            setattr(self, key, value)
        return self

    def clone(self) -> Self:
        """An unfitted copy with the same parameters."""
        return type(self)(**self.get_params())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # --- persistence: params.json + weights.safetensors, never a pickle -----------------------------------
    #: Where ``load`` finds the class a saved ``params.json`` names (set by each family of components).
    registry: ClassVar[Registry[Any]]

    def check_is_fitted(self) -> None:
        raise NotImplementedError

    def to(self, device: torch.device | str) -> Self:
        """Move every tensor and module the model holds (learned or precomputed for training) to ``device``, in
        place; the optimiser is left alone, and saving always writes CPU tensors."""
        for key, value in vars(self).items():
            if isinstance(value, torch.nn.Module):
                value.to(device)
            elif key != "optimizer_":
                moved = to_device(value, device)
                if moved is not value:
                    setattr(self, key, moved)
        return self

    def _state(self) -> dict[str, torch.Tensor]:
        """The learned tensors needed to use the model (saved in ``weights.safetensors``)."""
        raise NotImplementedError

    def _set_state(self, state: dict[str, torch.Tensor]) -> None:
        """Restore learned tensors: ``{"item_factors": t}`` sets ``item_factors_``."""
        for key, value in state.items():
            setattr(self, f"{key}_", value)

    def _save_meta(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """Sizes for ``params.json`` and tensors beyond ``_state`` (what ``_load_meta`` reads back)."""
        return {}, {}

    def _load_meta(self, meta: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
        """Read what ``_save_meta`` wrote; take the tensors it added out of ``tensors``."""

    def _save_extra(self, folder: Path) -> None:
        """Write files beyond the tensors (vocabularies, say) into the model folder being saved."""

    def _load_extra(self, folder: Path) -> None:
        """Read what ``_save_extra`` wrote."""

    def save(self, path: str | Path) -> Path:
        """Write ``params.json`` and ``weights.safetensors`` into the folder ``path``, atomically."""
        self.check_is_fitted()
        path = Path(path)
        meta, extra = self._save_meta()
        tensors = {k: v.detach().cpu().contiguous() for k, v in {**self._state(), **extra}.items()}
        with atomic_dir(path) as tmp:
            save_file(tensors, str(tmp / WEIGHTS_FILE))
            write_json(tmp / PARAMS_FILE, {"model": self.name, "params": self.get_params(),
                                           "knowrec_version": __version__, **meta})
            self._save_extra(tmp)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Load a component written by ``save``; called on a family's base class (``Recommender.load``), the class
        is the one ``params.json`` names."""
        path = Path(path)
        try:
            meta = read_json(path / PARAMS_FILE)
        except (OSError, ValueError) as e:
            raise ConfigError(f"{path} holds no saved model ({PARAMS_FILE}: {e})") from None
        if meta.get("knowrec_version") != __version__:
            logger.warning("model at %s was saved by knowrec %s, this is %s", path,
                           meta.get("knowrec_version", "before 0.1"), __version__)
        model_cls = cls if getattr(cls, "name", "") else cls.registry.get(meta["model"])
        defaults = model_cls.param_defaults()  # JSON has no tuples: a tuple parameter comes back as a list
        model = model_cls(**{k: tuple(v) if isinstance(v, list) and isinstance(defaults.get(k), tuple) else v
                             for k, v in meta["params"].items()})
        tensors = load_file(str(path / WEIGHTS_FILE))
        model._load_meta(meta, tensors)
        model._set_state(tensors)
        model._load_extra(path)
        return model


class Recommender(Estimator):
    """A recommender: hyperparameters in ``__init__``, learned state (ending in ``_``) from ``fit``.

    Users and items are the dataset's contiguous indices; ``recommend`` is batch-first like implicit's.
    """

    name: ClassVar[str] = ""
    registry = MODELS
    #: Inputs ``fit`` needs beyond interactions: any of ``{"kg", "item_text", "user_text"}``.
    requires: ClassVar[frozenset[str]] = frozenset()
    citation: ClassVar[str] = ""
    #: Whether ``fit_steps`` is a grid to be validated whole: early stopping's patience does not cut it short
    #: (a path along one parameter may stop once it stops improving; a grid over several may not).
    whole_grid: ClassVar[bool] = False

    # --- fitting ----------------------------------------------------------------------------------------
    def fit(self, data: Dataset, *, callbacks: Sequence[Callback] = (), show_progress: bool = True) -> Self:
        """Learn from ``data``'s interactions (the training part of a split); returns ``self``."""
        raise NotImplementedError

    def fit_steps(self, data: Dataset, *, show_progress: bool = True) -> Iterator[dict[str, float]]:
        """Fit in steps, each leaving a usable model that the trainer validates (a closed form fitted along a
        regularisation path yields once per value, with the value in the logs); by default one step, ``fit``."""
        self.fit(data, show_progress=show_progress)
        yield {}

    def _check_inputs(self, data: Dataset) -> None:
        self.check_params()
        if data.n_interactions == 0:
            raise ConfigError(f"cannot fit {type(self).__name__} on a dataset with no interactions")
        if "kg" in self.requires and data.kg is None:
            raise MissingInputError(f"{type(self).__name__} needs a knowledge graph; dataset {data.name!r} has none")
        if "item_text" in self.requires and data.item_table is None:
            raise MissingInputError(f"{type(self).__name__} needs item text; dataset {data.name!r} has no item fields")
        if "friends" in self.requires and data.task != FRIENDS:
            raise MissingInputError(f"{type(self).__name__} ranks users for a user: train it on a friend task "
                                    f"(--task friends), not on dataset {data.name!r}'s items")
        self.n_users_, self.n_items_ = data.n_users, data.n_items
        self.seen_ = data.matrix()
        self.task_ = data.task

    def check_is_fitted(self) -> None:
        if not hasattr(self, "n_items_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(dataset) first")

    # --- scoring ----------------------------------------------------------------------------------------
    def score(self, users: Any) -> torch.Tensor:
        """Scores of every item for each user, a float tensor of shape ``(len(users), n_items)``."""
        self.check_is_fitted()
        return self._score(torch.as_tensor(np.atleast_1d(users), dtype=torch.long))

    def _score(self, users: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def score_pairs(self, users: Any, items: Any, *, batch_size: int = 2048) -> np.ndarray:
        """The score of each (user, item) pair, e.g. for CTR metrics; rows are scored per block of users."""
        self.check_is_fitted()
        users, items = np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)
        out = np.empty(len(users), dtype=np.float64)
        uniq, inv = np.unique(users, return_inverse=True)
        for start in range(0, len(uniq), batch_size):
            rows = self.score(uniq[start:start + batch_size]).detach().to(torch.float64).numpy()
            sel = (inv >= start) & (inv < start + batch_size)
            out[sel] = rows[inv[sel] - start, items[sel]]
        return out

    def recommend(
        self,
        users: Any,
        k: int = 10,
        *,
        exclude_seen: bool = True,
        exclude_items: Any = None,
        candidates: Any = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` items and scores: shape ``(k,)`` for one user, ``(n, k)`` for an array of users.

        ``exclude_seen`` drops the user's training items; ``candidates`` restricts the ranking to those items. A
        model of a friend task never suggests users to themselves.
        """
        self.check_is_fitted()
        single = np.ndim(users) == 0
        users = np.atleast_1d(np.asarray(users, dtype=np.int64))
        if len(users) and (users.min() < 0 or users.max() >= self.n_users_):
            raise IndexError(f"user index out of range [0, {self.n_users_})")
        scores = self.score(users).clone()
        if exclude_seen:
            rows, cols = self.seen_[users].nonzero()
            scores[torch.as_tensor(rows), torch.as_tensor(cols)] = -torch.inf
        if getattr(self, "task_", "items") == FRIENDS:
            scores[torch.arange(len(users)), torch.as_tensor(users)] = -torch.inf
        if exclude_items is not None:
            scores[:, torch.as_tensor(np.asarray(exclude_items, dtype=np.int64))] = -torch.inf
        if candidates is not None:
            keep = torch.zeros(self.n_items_, dtype=torch.bool)
            keep[torch.as_tensor(np.asarray(candidates, dtype=np.int64))] = True
            scores[:, ~keep] = -torch.inf
        k = min(k, self.n_items_)
        top, idx = torch.topk(scores, k, dim=1)
        ids, vals = idx.numpy(), top.numpy()
        return (ids[0], vals[0]) if single else (ids, vals)

    def similar_items(self, items: Any, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Most similar items by cosine of the item factors (models without factors raise)."""
        self.check_is_fitted()
        factors = getattr(self, "item_factors_", None)
        if factors is None:
            raise NotSupportedError(f"similar_items is not supported with {type(self).__name__}")
        single = np.ndim(items) == 0
        items = torch.as_tensor(np.atleast_1d(items), dtype=torch.long)
        normed = torch.nn.functional.normalize(factors, dim=1)
        sims = normed[items] @ normed.T
        top, idx = torch.topk(sims, min(k, self.n_items_), dim=1)
        return (idx[0].numpy(), top[0].numpy()) if single else (idx.numpy(), top.numpy())

    # --- persistence ------------------------------------------------------------------------------------
    def _save_meta(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        seen = self.seen_.tocsr()
        return {"n_users": self.n_users_, "n_items": self.n_items_, "task": getattr(self, "task_", "items")}, {
            "seen_indptr": torch.as_tensor(seen.indptr.astype(np.int64)),
            "seen_indices": torch.as_tensor(seen.indices.astype(np.int64))}

    def _load_meta(self, meta: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
        indptr, indices = tensors.pop("seen_indptr").numpy(), tensors.pop("seen_indices").numpy()
        self.n_users_, self.n_items_ = meta["n_users"], meta["n_items"]
        self.task_ = meta.get("task", "items")
        self.seen_ = sp.csr_matrix((np.ones(len(indices), dtype=np.float32), indices, indptr),
                                   shape=(self.n_users_, self.n_items_))


class StatelessRecommender(Recommender):
    """A recommender that learns nothing beyond what ``_check_inputs`` records — the catalogue's size and the
    training matrix ``seen_`` (saved by the base) — and scores from those alone."""

    def fit(self, data: Dataset, *, callbacks: Sequence[Callback] = (), show_progress: bool = True) -> Self:
        self._check_inputs(data)
        for cb in callbacks:
            cb.on_fit_end(self)
        return self

    def _state(self) -> dict[str, torch.Tensor]:
        return {}


class FactorRecommender(Recommender):
    """A recommender that scores by dot products of learned ``user_factors_`` and ``item_factors_``."""

    def _score(self, users: torch.Tensor) -> torch.Tensor:
        return self.user_factors_[users] @ self.item_factors_.T

    def score_pairs(self, users: Any, items: Any, *, batch_size: int = 2048) -> np.ndarray:
        self.check_is_fitted()
        u = self.user_factors_[torch.as_tensor(np.asarray(users, dtype=np.int64))]
        i = self.item_factors_[torch.as_tensor(np.asarray(items, dtype=np.int64))]
        return (u * i).sum(1).to(torch.float64).numpy()

    def _state(self) -> dict[str, torch.Tensor]:
        return {"user_factors": self.user_factors_, "item_factors": self.item_factors_}
