"""Words for explanations: what a relation makes an entity to the item (``film.film.directed_by`` → "director",
``brand`` → "brand"), readable relation names, and which entity names are labels rather than raw ids."""

from __future__ import annotations

import re

from knowrec.kg.prepare import INVERSE_SUFFIX
from knowrec.kg.store.base import ITEM_PREFIX

#: Nouns where a relation's last word is not one (Freebase film relations, plural attribute names).
NOUNS = {
    "directed_by": "director", "written_by": "writer", "produced_by": "producer", "rating": "content rating",
    "award_won": "award", "award_nomination": "award nomination", "subjects": "subject", "star": "star",
    "production_companies": "production company", "cinematography": "cinematographer", "film_genre": "genre",
    "categories": "category", "genres": "genre", "class": "genre", "tags": "tag", "authors": "author",
    "written_work": "work", "films_in_this_genre": "film",
}
_WORD = re.compile(r"[_\s]+")
#: Ids that carry no name: Freebase MIDs, bare numbers, an item's own node.
_RAW = re.compile(r"^(?:[mg]\.[0-9a-z_]+|\d+|" + re.escape(ITEM_PREFIX) + r".*)$")


def relation_noun(relation: str, item_is_head: bool) -> str:
    """What the entity at the other end of a fact is to the item: ``film.film.directed_by`` from the film's side
    is its "director"; ``film.director.film`` (the item at the tail) is too, read from the relation's type."""
    inverse = relation.endswith(INVERSE_SUFFIX)
    parts = relation.removesuffix(INVERSE_SUFFIX).split(".")
    head_side = item_is_head != inverse
    word = parts[-1] if head_side or len(parts) < 3 else parts[-2]
    return NOUNS.get(word, _WORD.sub(" ", word).strip())


def relation_label(relation: str) -> str:
    """A relation's name for people: its last dotted part, underscores as spaces (``film.film.directed_by`` →
    "directed by")."""
    return _WORD.sub(" ", relation.removesuffix(INVERSE_SUFFIX).split(".")[-1]).strip()


def entity_label(entity_id: str, name: str) -> str:
    """The name to show for an entity, '' where it has none: a name given by the data or the graph store, else
    the value of an attribute-built id (``brand:3M`` → "3M"); Freebase MIDs and bare numbers have none."""
    if name and name != entity_id:
        return name
    if _RAW.match(entity_id):
        return ""
    field, sep, value = entity_id.partition(":")
    if sep and field and value:
        return "" if value.isdigit() else value  # HIN-style category:17 names nothing
    return entity_id
