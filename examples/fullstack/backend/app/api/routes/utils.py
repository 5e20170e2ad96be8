from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from app.api.deps import SessionDep
from app.schemas import HealthStatus

router = APIRouter(prefix="/utils", tags=["utils"])


@router.get("/health-check/")
def health_check(session: SessionDep) -> HealthStatus:
    session.execute(text("SELECT 1"))
    return HealthStatus(status="ok", database=session.get_bind().dialect.name)
