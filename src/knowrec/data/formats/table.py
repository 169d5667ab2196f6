"""Plain CSV/TSV/Parquet import with a column mapping, and a knowledge graph built from item attributes."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from knowrec.data.dataset import Dataset
from knowrec.data.formats.delimited import read_table
from knowrec.data.social import SocialGraph, build_social
from knowrec.data.triples import KnowledgeGraph, encode_triples, field_facts
from knowrec.errors import ConfigError, DataError

ColumnSpec = str | int


@dataclass
class ImportReport:
    """What an import kept, what it dropped and why (with the first few file:line examples per reason)."""

    rows_read: int = 0
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    strict: bool = False

    def drop(self, reason: str, path: str | Path, line_no: np.ndarray, mask: np.ndarray, field: str, *,
             keeps: str = "") -> np.ndarray:
        """Record rows in ``mask`` as dropped for ``reason`` (``keeps`` says which of them survives, as in "the
        latest row is kept"); in strict mode raise on the first one, where nothing is kept."""
        n = int(mask.sum())
        if n:
            lines = line_no[mask]
            if self.strict:
                raise DataError(reason, path=path, line=int(lines[0]), field=field)
            key = f"{reason}; {keeps}" if keeps else reason
            self.dropped[key] = self.dropped.get(key, 0) + n
            self.examples.setdefault(key, []).extend(f"{path}:{int(x)}" for x in lines[:3])
        return ~mask


def read_frame(path: str | Path | pd.DataFrame, *, sep: str | None = None, encoding: str = "utf-8",
               header: bool = True) -> tuple[pd.DataFrame, np.ndarray]:
    """Read CSV/TSV/Parquet into string columns with 1-based line numbers (row numbers for Parquet, and for a
    frame already in memory, which a loader of another format hands over)."""
    if isinstance(path, pd.DataFrame):
        frame = path.astype(str).where(path.notna(), "")
        return frame.reset_index(drop=True), np.arange(1, len(frame) + 1) + int(header)
    path = Path(path)
    if path.suffix in (".parquet", ".pq"):
        try:
            frame = pd.read_parquet(path)
        except Exception as e:  # pyarrow raises several types for a damaged file
            raise DataError(f"cannot read Parquet: {e}", path=path) from None
        frame = frame.astype(str).where(frame.notna(), "")
        return frame.reset_index(drop=True), np.arange(1, len(frame) + 1) + int(header)
    if sep is None:
        sep = {".csv": ",", ".tsv": "\t"}.get(path.suffix)
    return read_table(path, sep=sep, header=header, encoding=encoding, quoted=sep == ",")


def column(frame: pd.DataFrame, spec: ColumnSpec, path: str | Path) -> str:
    """Resolve a column by name, or by 0-based position when ``spec`` is an integer (or digits)."""
    if isinstance(spec, str) and spec in frame.columns:
        return spec
    if isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit()):
        pos = int(spec)
        if pos < frame.shape[1]:
            return str(frame.columns[pos])
    raise DataError(f"no such column (the file has: {', '.join(map(str, frame.columns))})",
                    path=path, line=1, field=str(spec))


def _numbers(values: pd.Series) -> np.ndarray:
    return pd.to_numeric(values.str.strip(), errors="coerce").to_numpy(dtype=np.float64)


#: Weights are kept as float32; timestamps as float64 seconds (or ms, µs), exact for integers up to 2^53.
MAX_WEIGHT = float(np.finfo(np.float32).max)
MAX_TIME = float(2**53)


def import_dataset(
    interactions: str | Path | pd.DataFrame,
    *,
    user_col: ColumnSpec = "user_id",
    item_col: ColumnSpec = "item_id",
    weight_col: ColumnSpec | None = None,
    time_col: ColumnSpec | None = None,
    sep: str | None = None,
    encoding: str = "utf-8",
    header: bool = True,
    name: str | None = None,
    items: str | Path | pd.DataFrame | None = None,
    item_id_col: ColumnSpec = "item_id",
    text_cols: Sequence[ColumnSpec] = (),
    attr_cols: Sequence[ColumnSpec] = (),
    attr_sep: str | None = None,
    attr_pattern: str | None = None,
    kg: str | Path | None = None,
    kg_cols: tuple[ColumnSpec, ColumnSpec, ColumnSpec] = (0, 1, 2),
    kg_header: bool = False,
    links: str | Path | None = None,
    link_cols: tuple[ColumnSpec, ColumnSpec] = (0, 1),
    links_header: bool = False,
    social: str | Path | pd.DataFrame | None = None,
    social_cols: tuple[ColumnSpec, ColumnSpec] = (0, 1),
    social_weight_col: ColumnSpec | None = None,
    social_header: bool = False,
    social_directed: bool = False,
    entity_names: str | Path | None = None,
    entity_name_cols: tuple[ColumnSpec, ColumnSpec] = (0, 1),
    entity_names_header: bool = False,
    strict: bool = False,
) -> tuple[Dataset, ImportReport]:
    """Build a dataset from your own files and report what was kept and dropped.

    Rows with a missing id or an unparsable weight/time, repeated (user, item) pairs (the latest is kept),
    links to unknown items and repeated triples are dropped and counted; ``strict`` raises instead.
    Each ``attr_cols`` column of the item table becomes a KG relation and each of its values an entity;
    ``attr_sep`` splits multi-valued cells ("Action|Comedy"), or the regular expression ``attr_pattern`` does
    (``",(?! )"``: a comma not followed by a space, for names that hold ", " themselves). Frames in memory may
    stand for the interaction and item files (named ``name`` in messages). ``social`` is a file of user–user
    links (friendships; ``social_directed`` for follows or trust), whose rows naming an unknown user, a user
    themself or a link already read are dropped and counted. ``entity_names`` is a table of (entity id, label)
    rows — what explanations show instead of raw ids; rows naming an entity the KG lacks are dropped and counted.
    """
    if attr_sep is not None and attr_pattern is not None:
        raise ConfigError("give attr_sep or attr_pattern, not both")
    if attr_pattern is not None:
        try:
            re.compile(attr_pattern)
        except re.error as e:
            raise ConfigError(f"attr_pattern {attr_pattern!r} is not a regular expression: {e}") from None
    if links is not None and kg is None:
        raise ConfigError("a links file maps items to the entities of a KG file: pass the KG as well (--kg)")
    if entity_names is not None and kg is None and not attr_cols:
        raise ConfigError("entity names label the entities of a KG: pass a KG (--kg) or attributes (--attr-col)")
    report = ImportReport(strict=strict)
    path = Path(f"<{name or 'interactions'}>") if isinstance(interactions, pd.DataFrame) else Path(interactions)
    frame, line_no = read_frame(interactions if isinstance(interactions, pd.DataFrame) else path, sep=sep,
                                encoding=encoding, header=header)
    report.rows_read = len(frame)
    ucol, icol = column(frame, user_col, path), column(frame, item_col, path)
    u = frame[ucol].str.strip().to_numpy(dtype=object)
    i = frame[icol].str.strip().to_numpy(dtype=object)
    keep = report.drop("missing user id", path, line_no, u == "", ucol)
    keep &= report.drop("missing item id", path, line_no, keep & (i == ""), icol)
    weights = times = None
    if weight_col is not None:
        wcol = column(frame, weight_col, path)
        weights = _numbers(frame[wcol])
        keep &= report.drop("weight is not a number", path, line_no, keep & np.isnan(weights), wcol)
        keep &= report.drop(f"weight is infinite or beyond ±{MAX_WEIGHT:.3g}", path, line_no,
                            keep & ~(np.abs(weights) <= MAX_WEIGHT), wcol)
    if time_col is not None:
        tcol = column(frame, time_col, path)
        times = _numbers(frame[tcol])
        if np.isnan(times).all() and len(times):  # ISO dates rather than numbers
            times = pd.to_datetime(frame[tcol], errors="coerce", utc=True).astype("int64").to_numpy() / 1e9
            times[pd.to_datetime(frame[tcol], errors="coerce").isna().to_numpy()] = np.nan
        keep &= report.drop("timestamp is not a number or date", path, line_no, keep & np.isnan(times), tcol)
        keep &= report.drop("timestamp is infinite or beyond ±2^53", path, line_no,
                            keep & ~(np.abs(times) <= MAX_TIME), tcol)
    order = np.arange(len(frame)) if times is None else np.lexsort((np.arange(len(frame)), np.nan_to_num(times)))
    pair = pd.Series(u.astype(str)) + "\x1f" + pd.Series(i.astype(str))
    later_dup = np.zeros(len(frame), dtype=bool)
    kept_order = order[keep[order]]
    later_dup[kept_order] = pair.iloc[kept_order].duplicated(keep="last").to_numpy()
    keep &= report.drop("duplicate (user, item) pair", path, line_no, later_dup, icol, keeps="the latest row is kept")
    if not keep.any():
        reasons = "; ".join(f"{n:,} × {r}" for r, n in report.dropped.items()) or "the file has no data rows"
        raise DataError(f"no interaction row kept of {report.rows_read:,} read ({reasons}); nothing was written",
                        path=path)

    item_table, field_types = None, {}
    if items is not None:
        item_table, field_types = _item_table(items, item_id_col, text_cols, attr_cols,
                                              attr_sep or (None if attr_pattern is None else re.compile(attr_pattern)),
                                              sep, encoding, report)
    data = Dataset.from_ids(
        name or path.stem, u[keep], i[keep],
        ratings=None if weights is None else weights[keep],
        timestamps=None if times is None else times[keep],
        item_table=item_table, field_types=field_types,
    )
    report.kept = data.n_interactions
    if item_table is not None:
        missing = int((~pd.Index(data.item_ids.astype(str)).isin(item_table.index)).sum())
        if missing:
            report.notes.append(f"{missing} items have interactions but no row in {items}")
        cold = data.n_items - len(np.unique(data.items))
        if cold:
            report.notes.append(f"{cold} items come from the item table only (no interactions: cold items)")
    if attr_cols:
        attr_names = [c for c, t in field_types.items() if t == "token_seq"]
        data.kg = attribute_kg(data, attr_names)
    if kg is not None:
        data.kg = _import_kg(data, Path(kg), kg_cols, kg_header, None if links is None else Path(links),
                             link_cols, links_header, encoding, report, base=data.kg)
    if entity_names is not None:
        data.kg = _name_entities(data.kg, Path(entity_names), entity_name_cols, entity_names_header, encoding,
                                 report)
    if social is not None:
        data.social = _import_social(data, social, social_cols, social_weight_col, social_header, social_directed,
                                     encoding, report, name)
    return data, report


def _name_entities(kg: KnowledgeGraph, path: Path, cols: tuple[ColumnSpec, ColumnSpec], header: bool,
                   encoding: str, report: ImportReport) -> KnowledgeGraph:
    """The KG with labels from a table of (entity id, label) rows; unknown entities and repeats are dropped."""
    frame, line_no = read_frame(path, encoding=encoding, header=header)
    idc, namec = (column(frame, c, path) for c in cols)
    ids, names = (frame[c].str.strip().to_numpy(dtype=object) for c in (idc, namec))
    pos = pd.Index(kg.entity_ids.astype(str)).get_indexer(ids.astype(str))
    keep = report.drop("name of an entity that is not in the KG", path, line_no, pos < 0, idc)
    keep &= report.drop("empty entity name", path, line_no, keep & (names == ""), namec)
    keep &= report.drop("entity named twice", path, line_no, keep & pd.Series(pos).duplicated().to_numpy(), idc,
                        keeps="the first name is kept")
    labels = np.full(kg.n_entities, "", dtype=object) if kg.entity_names is None else kg.entity_names.copy()
    labels[pos[keep]] = names[keep]
    report.notes.append(f"{int(keep.sum()):,} of {kg.n_entities:,} entities named from {path}")
    return KnowledgeGraph(kg.entity_ids, kg.relation_ids, kg.heads, kg.relations, kg.tails, kg.item_entities, labels)


def _import_social(data: Dataset, source: str | Path | pd.DataFrame, cols: tuple[ColumnSpec, ColumnSpec],
                   weight_col: ColumnSpec | None, header: bool, directed: bool, encoding: str,
                   report: ImportReport, name: str | None) -> SocialGraph:
    path = Path(f"<{name or 'social'} links>") if isinstance(source, pd.DataFrame) else Path(source)
    frame, line_no = read_frame(source, encoding=encoding, header=header)
    scol, dcol = (column(frame, c, path) for c in cols)
    weights = None if weight_col is None else _numbers(frame[column(frame, weight_col, path)])
    graph = build_social(data.user_ids, frame[scol].str.strip().to_numpy(dtype=object),
                         frame[dcol].str.strip().to_numpy(dtype=object), weights=weights, directed=directed,
                         report=report, path=path, line_no=line_no, fields=(scol, dcol))
    report.notes.append(f"{graph.n_links:,} social links kept ({'directed' if directed else 'undirected'})")
    return graph


def _item_table(source: str | Path | pd.DataFrame, id_col: ColumnSpec, text_cols: Sequence[ColumnSpec],
                attr_cols: Sequence[ColumnSpec], attr_sep: str | re.Pattern[str] | None, sep: str | None, encoding: str,
                report: ImportReport) -> tuple[pd.DataFrame, dict[str, str]]:
    path = Path("<items>") if isinstance(source, pd.DataFrame) else Path(source)
    frame, line_no = read_frame(source, sep=sep, encoding=encoding)
    idc = column(frame, id_col, path)
    ids = frame[idc].str.strip()
    keep = report.drop("item row without id", path, line_no, (ids == "").to_numpy(), idc)
    keep &= report.drop("duplicate item row", path, line_no, keep & ids.duplicated(keep="first").to_numpy(), idc,
                        keeps="the first is kept")
    table = pd.DataFrame(index=pd.Index(ids[keep].to_numpy(dtype=object), name="item_id"))
    types: dict[str, str] = {}
    for spec in text_cols:
        col = column(frame, spec, path)
        table[col] = frame.loc[keep, col].to_numpy(dtype=object)
        types[col] = "text"
    for spec in attr_cols:
        col = column(frame, spec, path)
        values = frame.loc[keep, col].str.strip()
        split = attr_sep.split if isinstance(attr_sep, re.Pattern) else lambda s: s.split(attr_sep)
        table[col] = [[v.strip() for v in split(s) if v.strip()] if s else [] for s in values] \
            if attr_sep else [[s] if s else [] for s in values]
        types[col] = "token_seq"
    return table, types


def attribute_kg(data: Dataset, columns: Sequence[str] | Mapping[str, str]) -> KnowledgeGraph:
    """Turn item-table columns into KG facts: (item, column, value) for each value of each item.

    ``columns`` lists column names, or maps each to a relation name. Values become entities named
    ``"<relation>:<value>"``; items already linked keep their entity, others get ``"item:<id>"``.
    Existing triples of ``data.kg`` are kept.
    """
    if data.item_table is None:
        raise DataError(f"dataset {data.name!r} has no item table to build a KG from")
    mapping = dict(columns) if isinstance(columns, Mapping) else {c: c for c in columns}
    base = data.kg
    linked = np.full(data.n_items, -1) if base is None else base.item_entities
    head_names = np.where(linked >= 0,
                          base.entity_ids[np.maximum(linked, 0)] if base is not None else "",
                          "item:" + data.item_ids.astype(str)).astype(object)
    heads, rels, tails = [], [], []
    for col, rel in mapping.items():
        if col not in data.item_table.columns:
            raise DataError(f"no such item field (have: {', '.join(data.item_table.columns)})", field=col)
        h, r, t = field_facts(data.item_table[col], rel, head_names)
        heads.append(h)
        rels.append(r)
        tails.append(t)
    if base is not None:
        heads.insert(0, base.entity_ids[base.heads])
        rels.insert(0, base.relation_ids[base.relations])
        tails.insert(0, base.entity_ids[base.tails])
    return encode_triples(np.concatenate(heads), np.concatenate(rels), np.concatenate(tails),
                          np.arange(data.n_items), head_names, data.n_items)


def _import_kg(data: Dataset, path: Path, cols: tuple[ColumnSpec, ...], header: bool, links: Path | None,
               link_cols: tuple[ColumnSpec, ...], links_header: bool, encoding: str, report: ImportReport,
               base: KnowledgeGraph | None) -> KnowledgeGraph:
    frame, line_no = read_frame(path, encoding=encoding, header=header)
    h, r, t = (frame[column(frame, c, path)].str.strip().to_numpy(dtype=object) for c in cols)
    keep = report.drop("triple with an empty field", path, line_no, (h == "") | (r == "") | (t == ""), "triple")
    triple = pd.Series(h.astype(str)) + "\x1f" + r.astype(str) + "\x1f" + t.astype(str)
    keep &= report.drop("duplicate triple", path, line_no, keep & triple.duplicated().to_numpy(), "triple")
    h, r, t = h[keep], r[keep], t[keep]
    link_items = np.zeros(0, dtype=np.int64)
    link_entities = np.zeros(0, dtype=object)
    if links is not None:
        lf, lline = read_frame(links, encoding=encoding, header=links_header)
        li, le = (lf[column(lf, c, links)].str.strip().to_numpy(dtype=object) for c in link_cols)
        pos = pd.Index(data.item_ids.astype(str)).get_indexer(li.astype(str))
        ok = report.drop("link to an unknown item", links, lline, pos < 0, str(link_cols[0]))
        entities = [h, t] + ([] if base is None else [base.entity_ids.astype(object)])
        in_kg = pd.Index(pd.unique(np.concatenate(entities).astype(str))).get_indexer(le.astype(str)) >= 0
        ok &= report.drop("link to an entity that is not in the KG", links, lline, ok & ~in_kg, str(link_cols[1]))
        ok &= report.drop("item linked twice", links, lline, ok & pd.Series(pos).duplicated().to_numpy(),
                          str(link_cols[0]), keeps="the first link is kept")
        link_items, link_entities = pos[ok], le[ok]
    elif base is None:  # no links: entities named like item ids are the items
        pos = pd.Index(data.item_ids.astype(str)).get_indexer(pd.unique(np.concatenate([h, t]).astype(str)))
        link_items = pos[pos >= 0]
        link_entities = data.item_ids[link_items]
        report.notes.append(f"no links file: {len(link_items)} items matched KG entities by id")
    if base is not None:
        h = np.concatenate([base.entity_ids[base.heads], h])
        r = np.concatenate([base.relation_ids[base.relations], r])
        t = np.concatenate([base.entity_ids[base.tails], t])
        has = base.item_entities >= 0
        extra = ~np.isin(np.flatnonzero(has), link_items)
        link_items = np.concatenate([link_items, np.flatnonzero(has)[extra]])
        link_entities = np.concatenate([link_entities, base.entity_ids[base.item_entities[has]][extra]])
    return encode_triples(h, r, t, link_items, link_entities, data.n_items)
