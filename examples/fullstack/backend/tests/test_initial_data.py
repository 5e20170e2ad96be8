from sqlalchemy.orm import Session

from app import crud
from app.core.config import settings
from app.core.db import init_db
from app.core.security import verify_password


def test_init_db_creates_the_first_superuser_once(db: Session) -> None:
    first = init_db(db)
    again = init_db(db)
    assert first.id == again.id
    user = crud.get_user_by_email(session=db, email=settings.FIRST_SUPERUSER)
    assert user is not None
    assert user.is_superuser
    assert verify_password(settings.FIRST_SUPERUSER_PASSWORD, user.hashed_password)
