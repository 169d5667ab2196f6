"""The ``Recommender`` contract (implicit's surface, scikit-learn's rules) and the shared gradient loop."""

from __future__ import annotations

import inspect
import logging
import math
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp
import torch
from safetensors.torch import load_file, save_file

from knowrec._io import atomic_dir, read_json, write_json
from knowrec._version import __version__
from knowrec.callbacks import Callback
from knowrec.data.dataset import Dataset
from knowrec.errors import (
    ConfigError,
    MissingInputError,
    ModelFitError,
    NotFittedError,
    NotSupportedError,
    did_you_mean,
)
from knowrec.params import NON_NEGATIVE, NON_NEGATIVE_INT, POSITIVE, POSITIVE_INT, Constraint, merged
from knowrec.progress import is_terminal, track
from knowrec.registry import Registry

logger = logging.getLogger(__name__)

MODELS: Registry[type[Recommender]] = Registry("model")
PARAMS_FILE = "params.json"
WEIGHTS_FILE = "weights.safetensors"


def register(name: str, *, aliases: tuple[str, ...] = ()):
    """Class decorator adding a model to ``MODELS`` under ``name`` (which also becomes ``cls.name``)."""

    def deco(cls: type[Recommender]) -> type[Recommender]:
        cls.name = name
        return MODELS.register(name, aliases=aliases)(cls)

    return deco


class Estimator:
    """scikit-learn's conventions: keyword-only hyperparameters stored unchanged by ``__init__``, and, declared
    beside them, the values each may take (``constraints``, checked by ``check_params`` before fitting)."""

    constraints: ClassVar[dict[str, Constraint]] = {}

    @classmethod
    def param_constraints(cls) -> dict[str, Constraint]:
        """Each parameter's valid values, from this class and its bases."""
        return merged(cls.__mro__)

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

    def _set_state(self, state: dict[str, torch.Tensor]) -> None:
        """Restore learned tensors: ``{"item_factors": t}`` sets ``item_factors_``."""
        for key, value in state.items():
            setattr(self, f"{key}_", value)


class Recommender(Estimator):
    """A recommender: hyperparameters in ``__init__``, learned state (ending in ``_``) from ``fit``.

    Users and items are the dataset's contiguous indices; ``recommend`` is batch-first like implicit's.
    """

    name: ClassVar[str] = ""
    #: Inputs ``fit`` needs beyond interactions: any of ``{"kg", "item_text", "user_text"}``.
    requires: ClassVar[frozenset[str]] = frozenset()
    citation: ClassVar[str] = ""

    # --- fitting ----------------------------------------------------------------------------------------
    def fit(self, data: Dataset, *, callbacks: Sequence[Callback] = (), show_progress: bool = True) -> Self:
        """Learn from ``data``'s interactions (the training part of a split); returns ``self``."""
        raise NotImplementedError

    def _check_inputs(self, data: Dataset) -> None:
        self.check_params()
        if data.n_interactions == 0:
            raise ConfigError(f"cannot fit {type(self).__name__} on a dataset with no interactions")
        if "kg" in self.requires and data.kg is None:
            raise MissingInputError(f"{type(self).__name__} needs a knowledge graph; dataset {data.name!r} has none")
        if "item_text" in self.requires and data.item_table is None:
            raise MissingInputError(f"{type(self).__name__} needs item text; dataset {data.name!r} has no item fields")
        self.n_users_, self.n_items_ = data.n_users, data.n_items
        self.seen_ = data.matrix()

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

        ``exclude_seen`` drops the user's training items; ``candidates`` restricts the ranking to those items.
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
    def _state(self) -> dict[str, torch.Tensor]:
        """The learned tensors needed to score (saved in ``weights.safetensors``)."""
        raise NotImplementedError

    def save(self, path: str | Path) -> Path:
        """Write ``params.json`` and ``weights.safetensors`` into the folder ``path``, atomically."""
        self.check_is_fitted()
        path = Path(path)
        seen = self.seen_.tocsr()
        tensors = {k: v.detach().contiguous() for k, v in self._state().items()}
        tensors["seen_indptr"] = torch.as_tensor(seen.indptr.astype(np.int64))
        tensors["seen_indices"] = torch.as_tensor(seen.indices.astype(np.int64))
        with atomic_dir(path) as tmp:
            save_file(tensors, str(tmp / WEIGHTS_FILE))
            write_json(tmp / PARAMS_FILE, {
                "model": self.name, "params": self.get_params(), "n_users": self.n_users_,
                "n_items": self.n_items_, "knowrec_version": __version__,
            })
            self._save_extra(tmp)
        return path

    def _save_extra(self, folder: Path) -> None:
        """Write files beyond the tensors (vocabularies, say) into the model folder being saved."""

    def _load_extra(self, folder: Path) -> None:
        """Read what ``_save_extra`` wrote."""

    @classmethod
    def load(cls, path: str | Path) -> Recommender:
        """Load a model written by ``save``; ``Recommender.load`` picks the class from ``params.json``."""
        path = Path(path)
        meta = read_json(path / PARAMS_FILE)
        model_cls = MODELS.get(meta["model"]) if cls is Recommender else cls
        if meta.get("knowrec_version") != __version__:
            logger.warning("model at %s was saved by knowrec %s, this is %s", path, meta.get("knowrec_version"),
                           __version__)
        model = model_cls(**meta["params"])
        tensors = load_file(str(path / WEIGHTS_FILE))
        indptr, indices = tensors.pop("seen_indptr").numpy(), tensors.pop("seen_indices").numpy()
        model.n_users_, model.n_items_ = meta["n_users"], meta["n_items"]
        model.seen_ = sp.csr_matrix((np.ones(len(indices), dtype=np.float32), indices, indptr),
                                    shape=(model.n_users_, model.n_items_))
        model._set_state(tensors)
        model._load_extra(path)
        return model


class TorchModel(Estimator):
    """The one mini-batch training loop every gradient model shares (recommenders and KG embeddings).

    Subclasses check their input in ``_prepare``, build ``module_`` in ``_build``, yield batches in
    ``_batches``, return the loss in ``_loss`` and update their learned tensors in ``_refresh``. Randomness
    of epoch ``e`` is derived from ``(seed, e)``, so a run resumed from a checkpoint gives the same result.
    """

    constraints: ClassVar[dict[str, Constraint]] = {
        "dim": POSITIVE_INT, "epochs": POSITIVE_INT, "batch_size": POSITIVE_INT, "lr": POSITIVE,
        "reg": NON_NEGATIVE, "seed": NON_NEGATIVE_INT,
    }

    def __init__(self, *, dim: int = 64, epochs: int = 300, batch_size: int = 2048, lr: float = 1e-3,
                 reg: float = 1e-4, seed: int = 2020) -> None:
        self.dim = dim
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.reg = reg
        self.seed = seed

    def _prepare(self, data: Any) -> None:
        """Validate ``data`` and record what the model needs from it before building."""

    def _build(self, data: Any) -> torch.nn.Module:
        raise NotImplementedError

    def _param_groups(self) -> Any:
        """What the optimizer trains (override to give some parameters their own learning rate)."""
        return self.module_.parameters()

    def _batches(self, rng: np.random.Generator) -> Iterator[Any]:
        raise NotImplementedError

    def _n_batches(self) -> int:
        raise NotImplementedError

    def _loss(self, batch: Any) -> torch.Tensor:
        raise NotImplementedError

    def _refresh(self) -> None:
        """Recompute the learned tensors used for scoring after an epoch."""
        raise NotImplementedError

    def fit(self, data: Any, *, callbacks: Sequence[Callback] = (), show_progress: bool = True,
            resume: dict[str, Any] | None = None) -> Self:
        """Train for up to ``epochs`` epochs; ``resume`` is a ``training_state()`` to continue from."""
        self._progress = show_progress  # for the slow parts of _prepare/_build (encoding text, say)
        self._prepare(data)
        torch.manual_seed(self.seed)
        self.module_ = self._build(data)
        self.optimizer_ = torch.optim.Adam(self._param_groups(), lr=self.lr)
        start = 0
        if resume is not None:
            self.module_.load_state_dict(resume["module"])
            self.optimizer_.load_state_dict(resume["optimizer"])
            start = int(resume["epoch"]) + 1
        self.stop_training_ = False
        for cb in callbacks:
            cb.on_fit_start(self)
        for epoch in range(start, self.epochs):
            t0 = time.perf_counter()
            torch.manual_seed(self.seed * 1_000_003 + epoch)
            rng = np.random.default_rng([self.seed, epoch])
            self.module_.train()
            total, count = 0.0, 0
            batches = self._batches(rng)
            if show_progress and is_terminal():  # batches of an epoch: a bar in a terminal, nothing in a log
                batches = track(batches, total=self._n_batches(), desc=f"epoch {epoch + 1}", unit="batch")
            for batch in batches:
                loss = self._loss(batch)
                self.optimizer_.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer_.step()
                total += float(loss.detach())
                count += 1
            mean_loss = total / max(count, 1)
            if not math.isfinite(mean_loss):
                raise ModelFitError(f"{type(self).__name__} diverged at epoch {epoch + 1} (loss {mean_loss}); "
                                    f"lower lr (now {self.lr}) or raise reg (now {self.reg})")
            self.epoch_ = epoch
            self.module_.eval()
            with torch.no_grad():
                self._refresh()
            logs = {"loss": mean_loss, "seconds": time.perf_counter() - t0}
            for cb in callbacks:
                cb.on_epoch_end(self, epoch, logs)
            if self.stop_training_:
                break
        for cb in callbacks:
            cb.on_fit_end(self)
        return self

    def training_state(self) -> dict[str, Any]:
        """Module and optimizer state after the last finished epoch, for checkpoints."""
        return {"module": self.module_.state_dict(), "optimizer": self.optimizer_.state_dict(),
                "epoch": self.epoch_}


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


class TorchRecommender(TorchModel, FactorRecommender):
    """A recommender trained by the shared loop; ``_factors`` gives the user and item vectors it scores with."""

    def _prepare(self, data: Dataset) -> None:
        self._check_inputs(data)

    def _factors(self) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def _refresh(self) -> None:
        u, i = self._factors()
        u = u.detach().clone()
        # A user with no training interaction never received a gradient: instead of a random vector, give
        # them the mean user, whose scores follow what most users like (a popularity-like fallback).
        cold = torch.from_numpy(np.diff(self.seen_.indptr) == 0)
        if cold.any() and not cold.all():
            u[cold] = u[~cold].mean(0)
        self.user_factors_, self.item_factors_ = u, i.detach().clone()



def pair_batches(users: np.ndarray, items: np.ndarray, batch_size: int, rng: np.random.Generator,
                 sampler: Any, n_neg: int = 1) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Shuffle (user, item) pairs, draw negatives for the whole epoch at once and cut into batches."""
    order = rng.permutation(len(users))
    u, i = users[order], items[order]
    neg = sampler.sample(u, rng, n_neg)
    for s in range(0, len(u), batch_size):
        yield (torch.from_numpy(u[s:s + batch_size]), torch.from_numpy(i[s:s + batch_size]),
               torch.from_numpy(neg[s:s + batch_size]))
