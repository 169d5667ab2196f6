"""Items: neighbours in the model's space, and new items added live."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from knowrec.serve.deps import Service, Write, authorised
from knowrec.serve.routes import responses
from knowrec.serve.schemas import MAX_K, Added, Item, NewItem, Recommendations

router = APIRouter(prefix="/items", tags=["items"])
ItemPath = Annotated[str, Path(min_length=1, max_length=200, description="Original item id")]


@router.get("/{item_id}/similar", responses=responses.UNKNOWN)
async def similar(service: Service, item_id: ItemPath,
                  k: Annotated[int, Query(ge=1, le=MAX_K, description="How many items")] = 10) -> Recommendations:
    """The items closest to an item in the model's item space."""
    return Recommendations(items=[Item.of(r) for r in service.similar(item_id, k)])


@router.post("", status_code=201, dependencies=[Depends(authorised)],
             responses=responses.WRITE | {409: {"description": "An item with this id exists"}})
async def add_item(service: Service, write: Write, item: NewItem) -> Added:
    """Embed and index a new item from its text and facts: recommendable in the next request."""
    await write(service.prepare_item, item.item_id, item.fields, [(f.relation, f.entity) for f in item.facts])
    return Added(item_id=item.item_id, title=service.items.titles[service.item(item.item_id)])
