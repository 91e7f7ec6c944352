"""Shared fixtures. PostgreSQL-only tests use the ``postgres`` marker; CI sets CS_REQUIRE_POSTGRES=1 so
they can never be skipped there."""

from __future__ import annotations

import os

import pytest
from django.db import connection

pytest_plugins = ["tests.shared_fixtures"]


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


@pytest.fixture(scope="session", autouse=True)
def _static_files_from_the_apps():
    """Deployments serve the files `collectstatic` gathered, by their hashed names from its manifest
    (WhiteNoise's manifest storage). Tests render pages without running it: plain names, and WhiteNoise
    finds the files in the apps as it does with DEBUG on. The gunicorn test collects them for real."""
    from django.conf import settings
    from django.test import override_settings

    plain = {**settings.STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    with override_settings(STORAGES=plain, WHITENOISE_AUTOREFRESH=True, WHITENOISE_USE_FINDERS=True):
        yield


@pytest.fixture
def on_postgres() -> bool:
    return connection.vendor == "postgresql"


def ensure_seed() -> None:
    """Transactional tests flush the tables; put the migrations' seed data back when it is gone."""
    import importlib

    from django.apps import apps

    from policy.models import RolloutPhase
    from policy.roles import ensure_roles

    if RolloutPhase.objects.exists():
        return
    for module in ("inquiries.migrations.0002_seed_intents", "policy.migrations.0002_seed_rollout"):
        importlib.import_module(module).seed(apps, None)
    for module in (
        "inquiries.migrations.0004_seed_agent_data",
        "inquiries.migrations.0008_generic_knowledge",
        "inquiries.migrations.0011_more_screens",
    ):
        try:
            importlib.import_module(module).seed(apps, None)
        except ModuleNotFoundError:
            pass
    ensure_roles()


@pytest.fixture(autouse=True)
def _seeded(request):
    """Every DB test starts with the seeded configuration, transactional ones included."""
    if "django_db_setup" in request.fixturenames and request.node.get_closest_marker("django_db"):
        request.getfixturevalue("db" if not _is_transactional(request) else "transactional_db")
        ensure_seed()
    yield
    # A send sweep's call threads may hold database connections (the database rate limiter): close
    # them before the database is flushed or dropped.
    from policy.sending import close_call_threads

    close_call_threads()


def _is_transactional(request) -> bool:
    marker = request.node.get_closest_marker("django_db")
    return bool(marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])))
