"""Request and response bodies of the HTTP service, with their bounds: types as the schema says (no 0 for false),
no unknown keys, ids as strings or integers, text that is valid Unicode and bounded per request."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    WithJsonSchema,
    model_validator,
)

from knowrec.explain import Explanation
from knowrec.serve.friends import FriendSuggestion
from knowrec.serve.service import Recommendation

MAX_K = 100
MAX_HISTORY = 1000
MAX_TEXT = 2000
#: All the text of one request (every field of a new item together), in characters.
MAX_REQUEST_TEXT = 20_000
MAX_BODY_BYTES = 1 << 20


def _unicode(value: str) -> str:
    """Lone surrogates ("\\ud800") parse from JSON but are not text: refuse them here, not deep in a tokenizer."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text holds a lone surrogate (an unpaired \\ud800–\\udfff escape); "
                         "send valid Unicode") from None
    return value


def _id(value: Any) -> Any:
    """Ids are strings; integers (most users' ids are numbers) are taken as the ids they are, booleans are not."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _number(value: Any) -> Any:
    """JSON Schema's integers include 76.0 but not "76" or true: lax parsing minus strings and booleans."""
    if isinstance(value, str | bool):
        raise ValueError("expected a number")
    return value


Text = Annotated[str, Field(max_length=MAX_TEXT), AfterValidator(_unicode)]
Id = Annotated[str, BeforeValidator(_id), Field(min_length=1, max_length=200), AfterValidator(_unicode),
               WithJsonSchema({"anyOf": [{"type": "string", "minLength": 1, "maxLength": 200}, {"type": "integer"}]})]
Values = Annotated[list[Text], Field(max_length=100)]
FieldName = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_unicode)]
Count = Annotated[int, Strict(False), Field(ge=1, le=MAX_K), BeforeValidator(_number)]


class Body(BaseModel):
    """A request body: types as the schema says (no 0 for false), no unknown keys."""

    model_config = ConfigDict(strict=True, extra="forbid")


class ReasonOut(BaseModel):
    text: str = Field(description="The reason in words: a knowledge-graph path, or the similar history item")
    via: str = Field(description="The history item the reason starts from")
    support: float = Field(description="Similarity of that history item to the recommended one")
    hops: int = Field(description="Facts on the path (0 for a similar item)")
    weight: float = Field(description="How strongly it speaks: a path's specificity (log of items / items sharing "
                                      "its busiest entity), else the similarity")
    evidence: int = Field(description="History items sharing the reason (for a similar item: 1 + people who "
                                      "chose both)")
    basis: Literal["kg", "co-occurrence", "text", "similarity"] = Field(description="What the reason rests on")
    weak: bool = Field(description="The path goes through a hub (an entity of more than 10 % of the items)")
    path: str = Field(description="The raw path: entity ids and relation names")
    effect: float = Field(description="How much the score falls without the facts the path ends in (0 where the "
                                      "model cannot tell)")
    nodes: list[str] = Field(description="Entity ids along the path, history item first (empty for a similar item)")


class Why(BaseModel):
    kind: Literal["kg", "similar", "none"] = Field(description="kg: graph paths; similar: closest history items")
    reasons: list[ReasonOut]
    sources: dict[str, float] = Field(description="Each source's part of the score (id, kg, text, popularity)")

    @classmethod
    def of(cls, e: Explanation) -> Why:
        return cls(kind=e.kind, reasons=[ReasonOut(**vars(r)) for r in e.reasons], sources=e.sources)


class Item(BaseModel):
    item_id: str
    title: str
    score: float | None = None
    new: bool = Field(False, description="Added while serving; placed because it matches the user's taste")
    explanation: Why | None = None

    @classmethod
    def of(cls, r: Recommendation) -> Item:
        return cls(item_id=r.item_id, title=r.title, score=r.score, new=r.new,
                   explanation=None if r.explanation is None else Why.of(r.explanation))


class Recommendations(BaseModel):
    user_id: str | None = None
    items: list[Item]


class UserHistory(BaseModel):
    user_id: str
    total: int = Field(description="How many items the history holds (``items`` shows up to ``limit``)")
    items: list[Item]


class Users(BaseModel):
    total: int
    user_ids: list[str]


class AdHocUser(Body):
    """A user the model never saw: their history (item ids), a profile text and/or their friends (user ids)."""

    history: list[Id] = Field(default_factory=list, max_length=MAX_HISTORY)
    text: Text | None = None
    friends: list[Id] = Field(default_factory=list, max_length=MAX_HISTORY,
                              description="Known users whose taste speaks for this one")
    k: Count = 10
    explain: bool = False
    exclude_seen: bool = True


class Fact(Body):
    relation: Id
    entity: Id


class NewItem(Body):
    """A new item: text fields (title, genres, description, …) and knowledge-graph facts."""

    item_id: Id
    fields: dict[FieldName, Text | Values] = Field(
        min_length=1, max_length=32,
        description=f"At least one, the title say; at most {MAX_REQUEST_TEXT:,} characters in all")
    facts: list[Fact] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def _bounded_text(self) -> NewItem:
        total = sum(len(key) + sum(map(len, value if isinstance(value, list) else [value]))
                    for key, value in self.fields.items())
        if total > MAX_REQUEST_TEXT:
            raise ValueError(f"the fields hold {total:,} characters in all; at most {MAX_REQUEST_TEXT:,} are taken")
        return self


class Added(BaseModel):
    item_id: str
    title: str


class Interactions(Body):
    items: list[Id] = Field(min_length=1, max_length=MAX_HISTORY)


class Recorded(BaseModel):
    user_id: str
    history_size: int


class NewFriends(Body):
    friends: list[Id] = Field(min_length=1, max_length=MAX_HISTORY, description="Known user ids")


class Befriended(BaseModel):
    user_id: str
    friends: int = Field(description="How many friends the user has now")


class Friends(BaseModel):
    user_id: str
    total: int = Field(description="How many friends the user has (``user_ids`` shows up to ``limit``)")
    user_ids: list[str]


class FriendReasonOut(BaseModel):
    kind: str = Field(description="mutual friends, items both interacted with, a shared fact of those items, …")
    count: int = Field(description="How many pieces of this evidence there are")
    shown: list[str] = Field(description="The rarest few, by id")
    weight: float = Field(description="Their summed log(users / users holding it)")
    text: str


class FriendOut(BaseModel):
    user_id: str
    score: float
    mutual_friends: int
    reasons: list[FriendReasonOut] | None = None
    explanation: str | None = Field(None, description="The reasons in a sentence")

    @classmethod
    def of(cls, s: FriendSuggestion) -> FriendOut:
        e = s.explanation
        reasons = None if e is None else [FriendReasonOut(kind=r.kind, count=r.count, shown=list(r.shown),
                                                          weight=r.weight, text=str(r)) for r in e.reasons]
        return cls(user_id=s.user_id, score=s.score, mutual_friends=s.mutual_friends, reasons=reasons,
                   explanation=None if e is None else str(e))


class FriendSuggestions(BaseModel):
    user_id: str
    users: list[FriendOut]
