"""Shared fixtures. PostgreSQL-only tests use the ``postgres`` marker; CI sets CS_REQUIRE_POSTGRES=1 so
they can never be skipped there."""

from __future__ import annotations

import os

import pytest
from django.db import connection


def pytest_collection_modifyitems(config, items):
    from django.conf import settings

    on_postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    if on_postgres:
        return
    if os.environ.get("CS_REQUIRE_POSTGRES") == "1":
        raise pytest.UsageError("CS_REQUIRE_POSTGRES=1 but DATABASE_URL does not point at PostgreSQL")
    skip = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://... (CI does)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def on_postgres() -> bool:
    return connection.vendor == "postgresql"
