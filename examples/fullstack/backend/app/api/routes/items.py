from __future__ import annotations

import uuid

from fastapi import APIRouter, HTTPException

from app import crud
from app.api.deps import CurrentUser, SessionDep
from app.models import Item
from app.schemas import ItemCreate, ItemPublic, ItemsPublic

router = APIRouter(prefix="/items", tags=["items"])


def to_public(item: Item) -> ItemPublic:
    return ItemPublic(
        id=item.id,
        title=item.title,
        slug=item.slug,
        description=item.description,
        tags=[t for t in item.tags.split(",") if t],
        created_at=item.created_at,
        owner_id=item.owner_id,
    )


@router.get("/")
def read_items(
    session: SessionDep, current_user: CurrentUser, skip: int = 0, limit: int = 100
) -> ItemsPublic:
    items, count = crud.list_items(
        session=session, owner_id=current_user.id, skip=skip, limit=limit
    )
    return ItemsPublic(data=[to_public(i) for i in items], count=count)


@router.post("/", status_code=201)
def create_item(
    session: SessionDep, current_user: CurrentUser, item_in: ItemCreate
) -> ItemPublic:
    item = crud.create_item(
        session=session,
        owner_id=current_user.id,
        title=item_in.title,
        description=item_in.description,
    )
    return to_public(item)


@router.get("/{item_id}")
def read_item(
    session: SessionDep, current_user: CurrentUser, item_id: uuid.UUID
) -> ItemPublic:
    item = session.get(Item, item_id)
    if item is None or item.owner_id != current_user.id:
        raise HTTPException(status_code=404, detail="Item not found")
    return to_public(item)


@router.delete("/{item_id}", status_code=204)
def delete_item(
    session: SessionDep, current_user: CurrentUser, item_id: uuid.UUID
) -> None:
    item = session.get(Item, item_id)
    if item is None or item.owner_id != current_user.id:
        raise HTTPException(status_code=404, detail="Item not found")
    session.delete(item)
    session.commit()
