"""Dataset look-up and download, against a local HTTP server on 127.0.0.1 serving files the test makes."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from knowrec.data import load_dataset
from knowrec.data.builtin import DatasetSpec, locate
from knowrec.data.download import RemoteFile, download
from knowrec.data.formats.recbole import load_recbole
from knowrec.errors import DataError, DatasetNotFoundError

INTER = b"user_id:token\titem_id:token\n1\t10\n2\t10\n2\t11\n"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    root = tmp_path / "www"
    root.mkdir()
    (root / "toy.inter").write_bytes(INTER)
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def spec(url: str, sha: str) -> DatasetSpec:
    return DatasetSpec("toy", "toy", lambda f: load_recbole(f, "toy"),
                       (RemoteFile("toy.inter", f"{url}/toy.inter", sha),), "test server", "none")


def test_download_checks_sha(server: str, tmp_path: Path) -> None:
    good = spec(server, hashlib.sha256(INTER).hexdigest())
    folder = download(good.files, tmp_path / "cache", show_progress=False)
    assert (folder / "toy.inter").read_bytes() == INTER
    assert good.loader(folder).n_interactions == 3


def test_download_rejects_bad_checksum(server: str, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="checksum mismatch"):
        download(spec(server, "0" * 64).files, tmp_path / "cache", show_progress=False)
    assert not (tmp_path / "cache" / "toy.inter").exists()
    assert not list((tmp_path / "cache").glob(".*"))


def test_download_missing_file(server: str, tmp_path: Path) -> None:
    bad = DatasetSpec("toy", "toy", lambda f: load_recbole(f, "toy"),
                      (RemoteFile("nope.inter", f"{server}/nope.inter", "0" * 64),), "test server", "none")
    with pytest.raises(OSError):
        download(bad.files, tmp_path / "cache", show_progress=False)


def test_registered_dataset_downloads_into_cache(server: str, tmp_path: Path, monkeypatch) -> None:
    from knowrec.data import builtin
    from knowrec.registry import Registry

    registry: Registry[DatasetSpec] = Registry("dataset")
    registry.register("toy-served")(spec(server, hashlib.sha256(INTER).hexdigest()))
    monkeypatch.setattr(builtin, "DATASETS", registry)
    monkeypatch.setenv("KNOWREC_CACHE_DIR", str(tmp_path / "c"))
    monkeypatch.delenv("KNOWREC_DATA_DIR", raising=False)
    _, folder = locate("toy-served", show_progress=False)
    assert folder == tmp_path / "c" / "datasets" / "toy"
    assert load_dataset("toy-served", show_progress=False).n_interactions == 3
    _, again = locate("toy-served", download_missing=False)  # now found in the cache, no download
    assert again == folder


def test_not_found_says_what_to_set(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("KNOWREC_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("KNOWREC_DATA_DIR", raising=False)
    with pytest.raises(DatasetNotFoundError) as e:
        locate("ml-100k", download_missing=False)
    assert "KNOWREC_DATA_DIR" in str(e.value)
