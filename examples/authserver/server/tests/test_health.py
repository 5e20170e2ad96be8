from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, inspect

from app.config import Settings
from app.main import create_app


def test_health_ok(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_health_reports_unreachable_database(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir" / "app.db"
    settings = Settings(secret_key="x", database_url=f"sqlite:///{missing}")
    with TestClient(create_app(settings)) as client:
        response = client.get("/health")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "unavailable"}


def test_app_does_not_create_tables(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    with TestClient(create_app(Settings(secret_key="x", database_url=url))) as client:
        assert client.get("/health").status_code == 200
    engine = create_engine(url)
    try:
        assert inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


def test_openapi_version(client: TestClient) -> None:
    from app import __version__

    info = client.get("/openapi.json").json()["info"]
    assert info["version"] == __version__
