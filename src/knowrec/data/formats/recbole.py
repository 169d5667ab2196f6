"""RecBole atomic files (``.inter``, ``.item``, ``.user``, ``.kg``, ``.link``) in and out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from knowrec._io import atomic_path
from knowrec.data.dataset import Dataset, as_text
from knowrec.data.formats.delimited import read_table, require_columns, require_values, to_numbers
from knowrec.data.formats.registry import Format, add_format
from knowrec.data.formats.table import ImportReport
from knowrec.data.social import SocialGraph, build_social
from knowrec.data.triples import encode_triples
from knowrec.errors import DataError

ATOMIC_TYPES = ("token", "token_seq", "float", "float_seq")
SUFFIXES = (".inter", ".item", ".user", ".kg", ".link", ".net")


def read_atomic(path: str | Path, encoding: str = "utf-8") -> tuple[pd.DataFrame, np.ndarray, dict[str, str]]:
    """Read one atomic file; returns string columns named without their type, line numbers and types."""
    frame, line_no = read_table(path, sep="\t", header=True, encoding=encoding)
    types: dict[str, str] = {}
    names = []
    for col in frame.columns:
        name, colon, kind = col.partition(":")
        if not colon or kind not in ATOMIC_TYPES:
            raise DataError(f"header field must be 'name:type' with type one of {', '.join(ATOMIC_TYPES)}",
                            path=path, line=1, field=col)
        if name in types:
            raise DataError("column appears twice in the header", path=path, line=1, field=name)
        types[name] = kind
        names.append(name)
    frame.columns = names
    return frame, line_no, types


def _typed_table(frame: pd.DataFrame, line_no: np.ndarray, types: dict[str, str], id_col: str,
                 path: Path) -> pd.DataFrame:
    ids = require_values(frame[id_col], path, line_no, id_col)
    dup = pd.Index(ids).duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise DataError(f"duplicate id {ids[i]!r}", path=path, line=int(line_no[i]), field=id_col)
    table = pd.DataFrame(index=pd.Index(ids, name=id_col))
    for col in frame.columns:
        if col == id_col:
            continue
        kind = types[col]
        if kind == "float":
            table[col] = to_numbers(frame[col], path, line_no, col, allow_empty=True)
        elif kind.endswith("_seq"):
            table[col] = [v.split() for v in frame[col].to_numpy()]
        else:
            table[col] = frame[col].str.strip().to_numpy()
    return table


def load_recbole(directory: str | Path, name: str | None = None, *, encoding: str = "utf-8") -> Dataset:
    """Load ``<name>.inter`` (required) and the optional ``.item``/``.user``/``.kg``/``.link`` beside it, and a
    ``.net`` of user–user links (RecBole-GNN's social file: ``source_id``, ``target_id``, optional ``weight``),
    read as friendships when every link's reverse is listed too, else as one-way links."""
    directory = Path(directory)
    if name is None:
        found = sorted(directory.glob("*.inter"))
        if len(found) != 1:
            raise DataError(f"expected exactly one .inter file, found {len(found)}", path=directory)
        name = found[0].stem
    files = {s: directory / f"{name}{s}" for s in SUFFIXES}
    inter, line_no, _ = read_atomic(files[".inter"], encoding)
    require_columns(inter, ["user_id", "item_id"], files[".inter"])
    users = require_values(inter["user_id"], files[".inter"], line_no, "user_id")
    items = require_values(inter["item_id"], files[".inter"], line_no, "item_id")
    ratings = to_numbers(inter["rating"], files[".inter"], line_no, "rating") if "rating" in inter else None
    timestamps = (to_numbers(inter["timestamp"], files[".inter"], line_no, "timestamp")
                  if "timestamp" in inter else None)

    field_types: dict[str, str] = {}
    tables: dict[str, pd.DataFrame | None] = {}
    for suffix, id_col in ((".item", "item_id"), (".user", "user_id")):
        tables[suffix] = None
        if files[suffix].is_file():
            frame, lines, ftypes = read_atomic(files[suffix], encoding)
            require_columns(frame, [id_col], files[suffix])
            tables[suffix] = _typed_table(frame, lines, ftypes, id_col, files[suffix])
            field_types.update({k: v for k, v in ftypes.items() if k != id_col})

    data = Dataset.from_ids(name, users, items, ratings=ratings, timestamps=timestamps,
                            item_table=tables[".item"], user_table=tables[".user"], field_types=field_types)
    if files[".kg"].is_file():
        data.kg = _load_kg(files[".kg"], files[".link"], data, encoding)
    if files[".net"].is_file():
        data.social = _load_net(files[".net"], data, encoding)
    return data


def _load_net(path: Path, data: Dataset, encoding: str) -> SocialGraph:
    net, lines, _ = read_atomic(path, encoding)
    require_columns(net, ["source_id", "target_id"], path)
    src, dst = (require_values(net[c], path, lines, c) for c in ("source_id", "target_id"))
    weights = to_numbers(net["weight"], path, lines, "weight") if "weight" in net else None
    forward = pd.Index(pd.Series(src, dtype=str) + "\x1f" + pd.Series(dst, dtype=str))
    backward = pd.Series(dst, dtype=str) + "\x1f" + pd.Series(src, dtype=str)
    directed = not bool(backward.isin(forward).all())
    return build_social(data.user_ids, src, dst, weights=weights, directed=directed,
                        report=ImportReport(strict=True), path=path, line_no=lines,
                        fields=("source_id", "target_id"))


def _load_kg(kg_path: Path, link_path: Path, data: Dataset, encoding: str):
    kg, kg_lines, _ = read_atomic(kg_path, encoding)
    require_columns(kg, ["head_id", "relation_id", "tail_id"], kg_path)
    heads, rels, tails = (require_values(kg[c], kg_path, kg_lines, c) for c in ("head_id", "relation_id", "tail_id"))
    linked_items = np.zeros(0, dtype=np.int64)
    linked_entities = np.zeros(0, dtype=object)
    if link_path.is_file():
        link, link_lines, _ = read_atomic(link_path, encoding)
        require_columns(link, ["item_id", "entity_id"], link_path)
        item_ids = require_values(link["item_id"], link_path, link_lines, "item_id")
        linked_entities = require_values(link["entity_id"], link_path, link_lines, "entity_id")
        linked_items = pd.Index(data.item_ids.astype(str)).get_indexer(item_ids)
        if (linked_items < 0).any():
            i = int(np.flatnonzero(linked_items < 0)[0])
            raise DataError(f"unknown item id {item_ids[i]!r} (not in the .inter or .item file)",
                            path=link_path, line=int(link_lines[i]), field="item_id")
        dup = pd.Index(linked_items).duplicated()
        if dup.any():
            i = int(np.flatnonzero(dup)[0])
            raise DataError(f"item {item_ids[i]!r} is linked twice", path=link_path,
                            line=int(link_lines[i]), field="item_id")
    return encode_triples(heads, rels, tails, linked_items, linked_entities, data.n_items)


def write_atomic(path: str | Path, frame: pd.DataFrame, types: dict[str, str]) -> None:
    """Write ``frame`` as an atomic file with a ``name:type`` header, atomically."""
    out = pd.DataFrame({
        f"{col}:{types[col]}": [as_text(v) for v in frame[col]] if types[col].endswith("_seq")
        else frame[col].map(_fmt) for col in frame.columns
    })
    with atomic_path(path) as tmp:
        out.to_csv(tmp, sep="\t", index=False, lineterminator="\n")


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return "" if np.isnan(value) else (str(int(value)) if value.is_integer() else repr(value))
    return str(value)


def export_recbole(data: Dataset, parts: np.ndarray, out: str | Path, name: str | None = None) -> list[Path]:
    """Write a split as RecBole benchmark files (``<name>.train.inter`` …) plus ``.item/.user/.kg/.link``.

    RecBole reads them with ``benchmark_filename: [train, valid, test]``, so both libraries see one split.
    """
    out = Path(out)
    name = name or data.name
    inter = pd.DataFrame({"user_id": data.user_ids[data.users], "item_id": data.item_ids[data.items]})
    types = {"user_id": "token", "item_id": "token"}
    if data.ratings is not None:
        inter["rating"], types["rating"] = data.ratings.astype(np.float64), "float"
    if data.timestamps is not None:
        inter["timestamp"], types["timestamp"] = data.timestamps, "float"
    written = []
    for code, part in enumerate(("train", "valid", "test")):
        path = out / f"{name}.{part}.inter"
        write_atomic(path, inter[parts == code], types)
        written.append(path)
    for suffix, ids, table, id_col in ((".item", data.item_ids, data.item_table, "item_id"),
                                       (".user", data.user_ids, data.user_table, "user_id")):
        if table is None:
            continue
        frame = pd.concat([pd.DataFrame({id_col: ids}), table.reset_index(drop=True)], axis=1)
        ftypes = {id_col: "token", **{c: _atomic_type(data.field_types.get(c, "token")) for c in table.columns}}
        write_atomic(out / f"{name}{suffix}", frame, ftypes)
        written.append(out / f"{name}{suffix}")
    if data.kg is not None:
        kg = data.kg
        triples = pd.DataFrame({"head_id": kg.entity_ids[kg.heads], "relation_id": kg.relation_ids[kg.relations],
                                "tail_id": kg.entity_ids[kg.tails]})
        write_atomic(out / f"{name}.kg", triples, dict.fromkeys(triples.columns, "token"))
        linked = np.flatnonzero(kg.item_entities >= 0)
        link = pd.DataFrame({"item_id": data.item_ids[linked], "entity_id": kg.entity_ids[kg.item_entities[linked]]})
        write_atomic(out / f"{name}.link", link, dict.fromkeys(link.columns, "token"))
        written += [out / f"{name}.kg", out / f"{name}.link"]
    if data.social is not None:
        src, dst, w = data.social.edges()
        net = pd.DataFrame({"source_id": data.user_ids[src], "target_id": data.user_ids[dst]})
        if data.social.weights is not None:
            net["weight"] = w.astype(np.float64)
        write_atomic(out / f"{name}.net", net, {"source_id": "token", "target_id": "token", "weight": "float"})
        written.append(out / f"{name}.net")
    return written


def _atomic_type(kind: str) -> str:
    return {"text": "token_seq"}.get(kind, kind)


add_format(Format("recbole", "*.inter", lambda p: any(p.glob("*.inter")), load_recbole, order=10))
