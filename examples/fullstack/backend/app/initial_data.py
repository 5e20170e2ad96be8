"""Prestart seed: create the first superuser (FIRST_SUPERUSER) if missing.

Run after ``alembic upgrade head``: ``python -m app.initial_data``.
"""

import logging

from app.core.db import SessionLocal, init_db

logging.basicConfig(level=logging.INFO)
logger = logging.getLogger(__name__)


def init() -> None:
    with SessionLocal() as session:
        user = init_db(session)
        logger.info("First superuser: %s", user.email)


def main() -> None:
    logger.info("Creating initial data")
    init()
    logger.info("Initial data created")


if __name__ == "__main__":
    main()
