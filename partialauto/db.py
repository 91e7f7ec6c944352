"""Database helpers shared by the apps."""

from __future__ import annotations

from django.db import connection


def threads_allowed() -> bool:
    """Whether work may move to other threads, each with a database connection of its own: only on
    PostgreSQL (SQLite takes one writer at a time) and never inside a caller's transaction (other
    connections cannot see its uncommitted rows, would wait on its locks, and what they write would
    not be part of it)."""
    return connection.vendor == "postgresql" and not connection.in_atomic_block


def in_transaction() -> bool:
    """Whether the caller is inside a transaction of its own. Django's TestCase wraps each test in
    atomic blocks it marks as its own; those do not count (the code under test runs as in production)."""
    return any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)
