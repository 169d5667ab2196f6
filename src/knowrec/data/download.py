"""Where datasets are cached, and downloading their files from the public source, each checked by SHA-256 and
written atomically (a failed or damaged download leaves nothing behind)."""

from __future__ import annotations

import hashlib
import logging
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from knowrec._io import atomic_path
from knowrec.errors import DataError

logger = logging.getLogger(__name__)

CACHE_DIR_ENV = "KNOWREC_CACHE_DIR"


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset: its path inside the dataset folder, its public URL and SHA-256."""

    path: str
    url: str
    sha256: str
    #: Paths that may stand in for this one in a local copy (a converted ``.txt`` for a ``.npy``).
    alternatives: tuple[str, ...] = ()

    def present_in(self, folder: Path) -> bool:
        return any((folder / p).is_file() for p in (self.path, *self.alternatives))


def cache_root() -> Path:
    """knowrec's cache: ``$KNOWREC_CACHE_DIR`` or ``~/.cache/knowrec`` (datasets, text embeddings)."""
    return Path(os.environ.get(CACHE_DIR_ENV) or Path.home() / ".cache" / "knowrec")


def cache_dir() -> Path:
    return cache_root() / "datasets"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download(files: tuple[RemoteFile, ...], folder: Path, *, timeout: float = 30.0,
             show_progress: bool = True) -> Path:
    """Fetch every missing one of ``files`` into ``folder``, checking SHA-256; each file lands atomically."""
    from tqdm.auto import tqdm

    for f in files:
        target = folder / f.path
        if f.present_in(folder):
            continue
        logger.info("downloading %s", f.url)
        h = hashlib.sha256()
        with atomic_path(target) as tmp, urllib.request.urlopen(f.url, timeout=timeout) as resp, open(tmp, "wb") as out:
            total = int(resp.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=f.path, disable=not show_progress) as bar:
                for chunk in iter(lambda: resp.read(1 << 16), b""):
                    out.write(chunk)
                    h.update(chunk)
                    bar.update(len(chunk))
            out.flush()
            if h.hexdigest() != f.sha256:
                raise DataError(f"checksum mismatch: expected sha256 {f.sha256}, got {h.hexdigest()}; "
                                f"the file was not kept", path=f.url)
    return folder
