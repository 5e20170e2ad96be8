import uuid

from fastapi.testclient import TestClient

from app.core.config import settings

ITEMS = f"{settings.API_V1_STR}/items/"


def test_create_item_derives_slug_and_tags(
    client: TestClient, normal_user_token_headers: dict[str, str]
) -> None:
    r = client.post(
        ITEMS,
        headers=normal_user_token_headers,
        json={"title": "Café Plans!", "description": "Book #Travel and #food, #travel"},
    )
    assert r.status_code == 201, r.text
    item = r.json()
    assert item["slug"] == "cafe-plans"
    assert item["tags"] == ["travel", "food"]

    r = client.get(f"{ITEMS}{item['id']}", headers=normal_user_token_headers)
    assert r.status_code == 200
    assert r.json()["title"] == "Café Plans!"


def test_items_are_listed_per_owner(
    client: TestClient,
    normal_user_token_headers: dict[str, str],
    superuser_token_headers: dict[str, str],
) -> None:
    for title in ("one", "two"):
        r = client.post(ITEMS, headers=normal_user_token_headers, json={"title": title})
        assert r.status_code == 201
    mine = client.get(ITEMS, headers=normal_user_token_headers).json()
    assert mine["count"] == 2
    assert [i["title"] for i in mine["data"]] == ["one", "two"]
    other = client.get(ITEMS, headers=superuser_token_headers).json()
    assert all(i["owner_id"] != mine["data"][0]["owner_id"] for i in other["data"])


def test_another_users_item_is_not_found(
    client: TestClient,
    normal_user_token_headers: dict[str, str],
    superuser_token_headers: dict[str, str],
) -> None:
    r = client.post(ITEMS, headers=superuser_token_headers, json={"title": "private"})
    item_id = r.json()["id"]
    r = client.get(f"{ITEMS}{item_id}", headers=normal_user_token_headers)
    assert r.status_code == 404
    r = client.delete(f"{ITEMS}{item_id}", headers=normal_user_token_headers)
    assert r.status_code == 404


def test_delete_item(
    client: TestClient, normal_user_token_headers: dict[str, str]
) -> None:
    r = client.post(ITEMS, headers=normal_user_token_headers, json={"title": "temp"})
    item_id = r.json()["id"]
    assert (
        client.delete(
            f"{ITEMS}{item_id}", headers=normal_user_token_headers
        ).status_code
        == 204
    )
    r = client.get(f"{ITEMS}{item_id}", headers=normal_user_token_headers)
    assert r.status_code == 404
    r = client.get(f"{ITEMS}{uuid.uuid4()}", headers=normal_user_token_headers)
    assert r.status_code == 404


def test_items_need_a_token(client: TestClient) -> None:
    assert client.get(ITEMS).status_code == 401
    r = client.post(ITEMS, json={"title": ""}, headers={"Authorization": "Bearer x"})
    assert r.status_code in (403, 422)
