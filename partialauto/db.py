"""Database helpers shared by the apps."""

from __future__ import annotations

from django.db import connection


def threads_allowed() -> bool:
    """Whether work may move to other threads, each with a database connection of its own: only on
    PostgreSQL (SQLite takes one writer at a time) and never inside a caller's transaction (other
    connections cannot see its uncommitted rows, would wait on its locks, and what they write would
    not be part of it)."""
    return connection.vendor == "postgresql" and not connection.in_atomic_block
