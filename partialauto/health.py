"""Liveness and readiness probes for a load balancer or a process supervisor.

``/healthz`` says the web process is up and serving; it touches nothing else (no database), so a
database outage never gets healthy web processes restarted. ``/readyz`` says this process can serve
real requests: the database answers and every migration in the code is applied; otherwise 503, so a
load balancer sends no traffic to a process started before ``migrate`` ran or cut off from the
database.

Both are answered by a middleware placed first: before the host check (probes often use the
machine's address as Host), the HTTPS redirect (probes use plain HTTP inside the network), sessions
and CSRF. The bodies are small JSON documents with fixed words only — no error text, host names or
settings — because the paths are reachable without logging in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger("partialauto.health")

LIVENESS_PATH = "/healthz"
READINESS_PATH = "/readyz"
PROBE_METHODS = ("GET", "HEAD")

OK = "ok"
UNAVAILABLE = "unavailable"
UNKNOWN = "unknown"


def database_check(alias: str = DEFAULT_DB_ALIAS) -> str:
    """``ok`` when a trivial query runs, ``unavailable`` otherwise (the error goes to the log only)."""
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        logger.warning("readyz-database-unavailable alias=%s error=%s", alias, type(exc).__name__)
        return UNAVAILABLE
    return OK


def migrations_check(alias: str = DEFAULT_DB_ALIAS) -> str:
    """``ok`` when nothing is left to migrate; otherwise how many migrations are not applied yet."""
    try:
        executor = MigrationExecutor(connections[alias])
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as exc:
        logger.warning("readyz-migrations-unknown alias=%s error=%s", alias, type(exc).__name__)
        return UNKNOWN
    if pending:
        logger.warning("readyz-migrations-pending alias=%s count=%d", alias, len(pending))
        return f"{len(pending)} pending"
    return OK


def readiness_checks() -> dict[str, str]:
    database = database_check()
    return {"database": database, "migrations": migrations_check() if database == OK else UNKNOWN}


def _probe_response(checks: dict[str, str]) -> HttpResponse:
    ready = all(value == OK for value in checks.values())
    response = JsonResponse({"status": OK if ready else UNAVAILABLE, "checks": checks}, status=200 if ready else 503)
    response["Cache-Control"] = "no-store"
    return response


def liveness(request: HttpRequest) -> HttpResponse:
    return _probe_response({"process": OK})


def readiness(request: HttpRequest) -> HttpResponse:
    return _probe_response(readiness_checks())


PROBES: dict[str, Callable[[HttpRequest], HttpResponse]] = {LIVENESS_PATH: liveness, READINESS_PATH: readiness}


class HealthCheckMiddleware:
    """Answers the probe paths itself; every other request goes on down the stack."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = PROBES.get(request.path_info)
        if probe is None:
            return self.get_response(request)
        if request.method not in PROBE_METHODS:
            response = HttpResponse(status=405)
            response["Allow"] = ", ".join(PROBE_METHODS)
            return response
        return probe(request)
