"""Database helpers shared by the apps."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from django.db import connection, models

if TYPE_CHECKING:
    from django.db.models import ForeignObjectRel


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


@contextmanager
def copied_rows(cursor, name: str, table: str, cols: str, rows: Iterable[Sequence]) -> Iterator[str]:
    """PostgreSQL, inside a transaction: a temporary table ``name`` with ``table``'s columns ``cols``
    (quoted, comma-separated), filled with ``rows`` by ``COPY`` (no per-value SQL to build or parse),
    for the statement in the ``with`` block to read; dropped afterwards."""
    cursor.execute(f"CREATE TEMPORARY TABLE {name} ON COMMIT DROP AS SELECT {cols} FROM {table} WITH NO DATA")
    with cursor.cursor.copy(f"COPY {name} ({cols}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    yield name
    cursor.execute(f"DROP TABLE {name}")


def column_of(field: models.Field[Any, Any] | ForeignObjectRel) -> str:
    """The database column of a concrete field; a field without one (a reverse relation, a
    many-to-many) is a caller's bug."""
    if not isinstance(field, models.Field) or field.column is None:
        raise ValueError(f"{field.model._meta.label}.{field.name} has no column")
    return field.column


def concrete_field(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    """The field ``name`` of ``model``, which must have a column."""
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field) or field.column is None:
        raise ValueError(f"{model._meta.label}.{name} has no column")
    return field


def max_length(model: type[models.Model], name: str) -> int:
    """The ``max_length`` of the field ``name`` of ``model``, which must have one."""
    field = model._meta.get_field(name)
    length = getattr(field, "max_length", None)
    if length is None:
        raise ValueError(f"{model._meta.label}.{name} has no max_length")
    return length


def copy_upsert(
    model: type[models.Model], objs: Sequence[models.Model], *, unique_fields: list[str], update_fields: list[str]
) -> None:
    """PostgreSQL, inside a transaction: insert ``objs`` or update the rows they collide with on
    ``unique_fields`` — ``bulk_create(update_conflicts=True)`` in two round trips. The rows go through
    :func:`copied_rows`, then one ``INSERT … SELECT … ON CONFLICT DO UPDATE`` writes them in key order
    (concurrent writers of the same rows lock them in one order)."""
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    qn = connection.ops.quote_name
    cols = ", ".join(qn(column_of(f)) for f in fields)
    keys = ", ".join(qn(column_of(meta.get_field(name))) for name in unique_fields)
    updates = ", ".join(
        f"{qn(column_of(meta.get_field(name)))} = EXCLUDED.{qn(column_of(meta.get_field(name)))}"
        for name in update_fields
    )
    table = qn(meta.db_table)
    rows = ([f.get_db_prep_save(f.pre_save(obj, add=True), connection) for f in fields] for obj in objs)
    with connection.cursor() as cursor, copied_rows(cursor, "_upsert_rows", table, cols, rows) as source:
        cursor.execute(
            f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {source} ORDER BY {keys} "
            f"ON CONFLICT ({keys}) DO UPDATE SET {updates}"
        )
