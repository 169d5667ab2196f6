"""Item and user texts built from their fields (and KG facts whose entities have readable names).

"Toy Story (1995). Genres: Animation, Children's, Comedy." for an item; "24-year-old male technician" for
a user. A ``template`` such as ``"{title}. {description}"`` overrides the automatic text.
"""

from __future__ import annotations

import re
import string
from typing import Any

import numpy as np
import pandas as pd

from knowrec.data.dataset import TITLE_FIELDS, Dataset, as_text
from knowrec.data.triples import KnowledgeGraph
from knowrec.errors import ConfigError

#: Fields never worth reading: identifiers, links, postcodes.
SKIP_FIELDS = frozenset({"item_id", "user_id", "zip_code", "zip", "url", "imdb_url", "video_release_date"})
YEAR_FIELDS = ("release_year", "year")
#: Prose fields: always last, after the short facts, whatever their length.
PROSE_FIELDS = frozenset({"description", "overview", "plot", "summary", "synopsis"})
LABELS = {"class": "Genres", "genre": "Genres", "genres": "Genres", "category": "Category",
          "categories": "Categories", "brand": "Brand", "author": "Author", "book_author": "Author",
          "publisher": "Publisher"}
GENDERS = {"m": "male", "f": "female", "male": "male", "female": "female"}
_OPAQUE = re.compile(r"^(m\.[0-9a-z_]+|\d+)$")  # Freebase ids and bare numbers are not names


def item_texts(data: Dataset, template: str | None = None, *, kg_facts: int = 10) -> list[str] | None:
    """One text per item of a dataset (its fields, then up to ``kg_facts`` readable KG facts), or ``None`` when
    it has no item fields and no readable facts."""
    table = data.item_table
    fields = set() if table is None else set(table.columns)  # facts built from a field would repeat it
    facts = _fact_sentences(data.kg, data.n_items, kg_facts, fields) if kg_facts and data.kg is not None else None
    if table is None and facts is None:
        return None
    texts = render_items(table if table is not None else pd.DataFrame(index=range(data.n_items)), template, facts)
    return texts if template is not None or any(texts) else None


def render_items(table: pd.DataFrame, template: str | None = None, facts: list[str] | None = None) -> list[str]:
    """The text of each row of an item table — ``template`` filled in, or the title and a sentence per field
    followed by the row's ``facts`` — for a dataset's items and for items added after training alike."""
    if template is not None:
        return render(template, table)
    texts = [describe_item(row) for row in table.to_dict("records")]
    if facts is not None:
        texts = [f"{t} {f}".strip() for t, f in zip(texts, facts, strict=True)]
    return texts


def user_texts(data: Dataset, template: str | None = None) -> list[str] | None:
    """One text per user from the user fields ("24-year-old male technician"), or ``None`` without any."""
    if data.user_table is None:
        return None
    if template is not None:
        return render(template, data.user_table)
    texts = [describe_user(row) for row in data.user_table.to_dict("records")]
    return texts if any(texts) else None


def render(template: str, table: pd.DataFrame) -> list[str]:
    """Fill ``template``'s ``{field}`` slots from each row of ``table``."""
    names = [f for _, f, _, _ in string.Formatter().parse(template) if f]
    missing = [n for n in names if n not in table.columns]
    if missing:
        raise ConfigError(f"text template uses unknown field {missing[0]!r}; fields: {', '.join(table.columns)}")
    return [template.format(**{n: _value(n, row[n]) for n in names}) for row in table.to_dict("records")]


def describe_item(row: dict[str, Any]) -> str:
    """Title (year) first, then one "Label: value." sentence per other field, prose (descriptions, long texts)
    last."""
    title_field = next((f for f in TITLE_FIELDS if f in row), None)
    parts: list[str] = []
    if title_field is not None:
        title = _value(title_field, row[title_field])
        year = next((_value(f, row[f]) for f in YEAR_FIELDS if f in row and _value(f, row[f])), "")
        title = f"{title} ({year})" if year and year not in title else title
        parts.append(_sentence(title))
    long_texts = []
    for name, raw in row.items():
        value = _value(name, raw)
        if name == title_field or name in YEAR_FIELDS or name in SKIP_FIELDS or not any(c.isalnum() for c in value):
            continue
        if name in PROSE_FIELDS or (len(value) > 80 and not isinstance(raw, list | tuple | np.ndarray)):
            long_texts.append(value)
        else:
            parts.append(_sentence(f"{LABELS.get(name, name.replace('_', ' ').capitalize())}: {value}"))
    return " ".join(parts + long_texts)


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else f"{text}."


def describe_user(row: dict[str, Any]) -> str:
    """"24-year-old male technician"; other fields as "label value"."""
    words = []
    age = as_text(row.get("age"))
    if age:
        words.append(f"{age}-year-old" if age.isdigit() else f"aged {age}")
    gender = GENDERS.get(as_text(row.get("gender")).lower())
    if gender:
        words.append(gender)
    occupation = as_text(row.get("occupation"))
    if occupation:
        words.append(occupation if not occupation.isdigit() else f"with occupation {occupation}")
    rest = [f"{name.replace('_', ' ')} {as_text(v)}" for name, v in row.items()
            if name not in {"age", "gender", "occupation"} | SKIP_FIELDS and as_text(v)]
    return ", ".join([" ".join(words), *rest]) if rest and words else " ".join(words) or ", ".join(rest)


def _value(name: str, raw: Any) -> str:
    if isinstance(raw, list | tuple | np.ndarray):
        sep = " " if name in TITLE_FIELDS else ", "
        return sep.join(map(str, raw))
    return as_text(raw)


def _fact_sentences(kg: KnowledgeGraph, n_items: int, limit: int,
                    skip_relations: set[str] | frozenset[str] = frozenset()) -> list[str] | None:
    """Per item, up to ``limit`` "relation: entity" facts whose entity names are readable (not ids), leaving out
    the relations in ``skip_relations`` (those an item field already states)."""
    readable = np.array([not _OPAQUE.match(str(e)) for e in kg.entity_ids], dtype=bool)
    if not readable.any():
        return None
    entity_item = np.full(kg.n_entities, -1, dtype=np.int64)
    linked = kg.item_entities >= 0
    entity_item[kg.item_entities[linked]] = np.flatnonzero(linked)
    item = entity_item[kg.heads]
    stated = np.isin(kg.relation_ids.astype(str), list(skip_relations))
    keep = (item >= 0) & readable[kg.tails] & ~stated[kg.relations]
    sentences: list[list[str]] = [[] for _ in range(n_items)]
    for i, r, t in zip(item[keep], kg.relations[keep], kg.tails[keep], strict=True):
        if len(sentences[i]) < limit:
            sentences[i].append(f"{relation_label(kg.relation_ids[r])}: {kg.entity_ids[t]}")
    return ["; ".join(s) + "." if s else "" for s in sentences]


def relation_label(relation: str) -> str:
    """"film.film.directed_by" → "directed by"; plain names unchanged."""
    return str(relation).rsplit(".", 1)[-1].replace("_", " ")
