"""FastAPI application. Run with ``uvicorn app.main:app`` from ``server/``.

The app never creates tables: run ``alembic upgrade head`` first.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.config import Settings
from app.db import create_db_engine, create_session_factory
from app.routers import auth, health, users


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; settings default to those read from the environment."""
    settings = settings or Settings.from_env()
    engine = create_db_engine(settings.database_url)
    logging.getLogger("app").setLevel(settings.log_level.upper())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()

    application = FastAPI(
        title="Auth Server",
        version="0.1.0",
        description="Register, log in with JWTs, refresh and revoke tokens.",
        lifespan=lifespan,
    )
    application.state.settings = settings
    application.state.engine = engine
    application.state.session_factory = create_session_factory(engine)
    application.include_router(health.router)
    application.include_router(auth.router)
    application.include_router(users.router)
    return application


app = create_app()

__all__ = ["app", "create_app"]
