#! /usr/bin/env bash
# Run before the server starts: wait for the database, migrate, seed.
set -e
set -x

python -m app.backend_pre_start
alembic upgrade head
python -m app.initial_data
