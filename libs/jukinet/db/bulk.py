"""Inserting many rows at once: the statement compiled once, each row handed to the
driver as a tuple.

``session.execute(table.insert(), rows)`` builds SQLAlchemy's parameter set for every
row (bind processors looked up, keys checked, dicts copied); for a migration's tens of
thousands of rows that costs more than the INSERT itself. Here the columns' bind
processors are applied in one pass and the driver's own ``executemany`` does the rest
(sqlite3 in C; asyncpg pipelined), inside the session's transaction.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["insert_rows"]

_FEW = 50  # below this, SQLAlchemy's own executemany is as cheap
Processor = Callable[[Any], Any] | None


async def insert_rows(
    session: AsyncSession, table: Table, rows: Sequence[Mapping[str, Any]]
) -> None:
    """INSERT ``rows`` into ``table`` in the session's transaction. Every row names the
    same columns (those of the first row)."""
    if len(rows) < _FEW:
        if rows:
            await session.execute(table.insert(), list(rows))
        return
    connection = await session.connection()
    names = tuple(rows[0])
    sql, order, processors = _compiled(table, names, connection.dialect)
    take = operator.itemgetter(*order)
    convert = [(i, p) for i, p in enumerate(processors) if p is not None]
    values: list[Any] = []
    for row in rows:
        value = take(row) if len(order) > 1 else (take(row),)
        if convert:
            changed = list(value)
            for i, process in convert:
                changed[i] = process(changed[i])
            value = tuple(changed)
        values.append(value)
    await connection.exec_driver_sql(sql, values)


@functools.lru_cache(maxsize=256)
def _compiled(
    table: Table, names: tuple[str, ...], dialect: Dialect
) -> tuple[str, tuple[str, ...], tuple[Processor, ...]]:
    """The INSERT of ``names`` for ``dialect``, its parameters in positional order and
    each one's bind processor (None where values pass unchanged)."""
    compiled = table.insert().compile(dialect=dialect, column_keys=list(names))
    order = tuple(compiled.positiontup or ())
    if not dialect.positional or sorted(order) != sorted(names):
        raise ValueError("insert_rows needs a positional driver and every column once")
    processors = tuple(
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in order
    )
    return compiled.string, order, processors
