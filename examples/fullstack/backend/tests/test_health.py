from fastapi.testclient import TestClient

from app.core.config import settings


def test_health_check_reports_the_database(client: TestClient) -> None:
    r = client.get(f"{settings.API_V1_STR}/utils/health-check/")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["database"] in ("postgresql", "sqlite")


def test_openapi_lists_the_item_routes(client: TestClient) -> None:
    r = client.get(f"{settings.API_V1_STR}/openapi.json")
    assert r.status_code == 200
    assert f"{settings.API_V1_STR}/items/" in r.json()["paths"]
