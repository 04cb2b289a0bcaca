"""Change notifications (異動情報の提供): the resident codes a permitted body registered,
and the feed of their changes.

When the agency applies changes, each is fanned out to the bodies watching that
resident: the watch list is read by resident code (its own index), so a change costs
one index probe plus one feed row per watcher — never a scan of the watch list or of
the feed. Feed rows take their sequence numbers from one counter row, locked until the
applying transaction commits: rows become visible in sequence order, so a body reading
"everything after my cursor" can never skip a row that commits later with a smaller
number. A feed row points at the change's history row; the record itself is read, and
projected to the affair's fields, only when the body pulls it.

A 住民票コード変更 is delivered to the watchers of the old code (with the old and the new
code), and from then on they watch the new code too: the body follows the person.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    bindparam,
    delete,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.contracts.identity import IdentityChange
from jukinet.db.engine import UtcDateTime

__all__ = [
    "FeedRow",
    "WatchTables",
    "changes_after",
    "fan_out",
    "unwatch",
    "watch",
    "watch_tables",
    "watched_count",
]

_ID = BigInteger().with_variant(Integer(), "sqlite")
_CHUNK = 500  # codes per IN list (SQLite's parameter limit, with room)


@dataclass(frozen=True)
class WatchTables:
    watches: Table
    feed: Table
    head: Table


def watch_tables(metadata: MetaData) -> WatchTables:
    watches = Table(
        "change_subscriptions",
        metadata,
        Column("client", String(40), primary_key=True),
        Column("affair", String(60), primary_key=True),
        Column("resident_code", String(11), primary_key=True),
        Column("since", UtcDateTime(), nullable=False),
        Index("ix_change_subscriptions_code", "resident_code"),
    )
    feed = Table(
        "change_feed",
        metadata,
        Column("seq", BigInteger, primary_key=True, autoincrement=False),
        Column("client", String(40), nullable=False),
        Column("affair", String(60), nullable=False),
        Column("watched_code", String(11), nullable=False),
        Column("history_id", _ID, nullable=False),
        Column("recorded_at", UtcDateTime(), nullable=False),
        Index("ix_change_feed_subscriber", "client", "affair", "seq"),
        Index("ix_change_feed_code", "client", "affair", "watched_code"),
    )
    head = Table(
        "change_feed_head",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("seq", BigInteger, nullable=False),
    )
    return WatchTables(watches, feed, head)


# --- the watch list ---------------------------------------------------------------------


def _is_postgresql(session: AsyncSession) -> bool:
    return session.bind is not None and session.bind.dialect.name == "postgresql"


def _chunks(codes: Sequence[str]) -> Iterable[list[str]]:
    for start in range(0, len(codes), _CHUNK):
        yield list(codes[start : start + _CHUNK])


async def watch(
    session: AsyncSession, tables: WatchTables, client: str, affair: str,
    codes: Sequence[str], now: dt.datetime,
) -> None:  # fmt: skip
    """Add ``codes`` to what ``client`` watches for ``affair``; codes already watched are
    left as they are (watched since they were first added)."""
    if not codes:
        return
    w = tables.watches
    if _is_postgresql(session):  # one statement for the whole batch
        listed = func.unnest(bindparam("codes", type_=postgresql.ARRAY(String(11))))
        source = select(literal(client), literal(affair), listed, literal(now, UtcDateTime()))
        columns = ["client", "affair", "resident_code", "since"]
        statement = postgresql.insert(w).from_select(columns, source).on_conflict_do_nothing()
        await session.execute(statement, {"codes": list(codes)})
        return
    rows = [{"client": client, "affair": affair, "resident_code": c, "since": now} for c in codes]
    await session.execute(sqlite.insert(w).on_conflict_do_nothing(), rows)


async def unwatch(
    session: AsyncSession, tables: WatchTables, client: str, affair: str, codes: Sequence[str]
) -> int:
    """Stop watching ``codes``: their changes not yet pulled are withdrawn too (the body
    no longer serves these residents, so it receives nothing more of theirs)."""
    w, f = tables.watches, tables.feed
    removed = 0
    for chunk in _chunks(codes):
        mine = (w.c.client == client) & (w.c.affair == affair) & w.c.resident_code.in_(chunk)
        result = await session.execute(delete(w).where(mine))
        removed += max(getattr(result, "rowcount", 0), 0)
        pending = (f.c.client == client) & (f.c.affair == affair) & f.c.watched_code.in_(chunk)
        await session.execute(delete(f).where(pending))
    return removed


async def watched_count(
    session: AsyncSession, tables: WatchTables, client: str, affair: str
) -> int:
    w = tables.watches
    query = select(func.count()).where(w.c.client == client, w.c.affair == affair)
    return int(await session.scalar(query) or 0)


# --- fan-out, where changes are applied -------------------------------------------------


async def fan_out(
    session: AsyncSession, tables: WatchTables, history: Table,
    accepted: Sequence[IdentityChange], origin_message_id: str, now: dt.datetime,
) -> int:  # fmt: skip
    """Put each accepted change of one message into the feed of every body watching its
    resident (by its code, or the old code of a code change). Returns the rows added."""
    codes = {c.record.resident_code for c in accepted}
    codes |= {c.previous_code for c in accepted if c.previous_code}
    watchers = await _watchers(session, tables, sorted(codes))
    if not watchers:
        return 0
    await _follow_new_codes(session, tables, accepted, watchers, now)
    rows = await _history_of(session, history, origin_message_id, sorted(watchers))
    entries: dict[tuple[int, str, str], dict[str, Any]] = {}
    for row in rows:
        for watched in (row.previous_code, row.resident_code):  # the old code first
            for client, affair in watchers.get(watched or "", []):
                entries.setdefault((row.id, client, affair), {
                    "client": client, "affair": affair, "watched_code": watched,
                    "history_id": row.id, "recorded_at": now,
                })  # fmt: skip
    if not entries:
        return 0
    last = await _take_numbers(session, tables, len(entries))
    feed = list(entries.values())
    for seq, entry in enumerate(feed, start=last - len(feed) + 1):
        entry["seq"] = seq
    await session.execute(tables.feed.insert(), feed)
    return len(feed)


async def _watchers(
    session: AsyncSession, tables: WatchTables, codes: Sequence[str]
) -> dict[str, list[tuple[str, str]]]:
    """Who watches each of ``codes``: by the watch list's code index, nothing else."""
    w = tables.watches
    found: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for chunk in _chunks(codes):
        query = select(w.c.resident_code, w.c.client, w.c.affair).where(
            w.c.resident_code.in_(chunk)
        )
        for code, client, affair in await session.execute(query):
            found[code].append((client, affair))
    return dict(found)


async def _follow_new_codes(
    session: AsyncSession, tables: WatchTables, accepted: Sequence[IdentityChange],
    watchers: dict[str, list[tuple[str, str]]], now: dt.datetime,
) -> None:  # fmt: skip
    """The watchers of a replaced code watch the new one from now on — this message's
    later changes of the person included."""
    for change in accepted:
        old, new = change.previous_code, change.record.resident_code
        for client, affair in watchers.get(old or "", []):
            await watch(session, tables, client, affair, [new], now)
            if (client, affair) not in watchers.setdefault(new, []):
                watchers[new].append((client, affair))


async def _history_of(
    session: AsyncSession, history: Table, origin_message_id: str, codes: Sequence[str]
) -> list[Any]:
    """The history rows this message wrote for ``codes`` (as the new or the old code), in
    the order they were written."""
    h = history
    found: list[Any] = []
    for chunk in _chunks(codes):
        ours = h.c.origin_message_id == origin_message_id
        query = select(h.c.id, h.c.resident_code, h.c.previous_code).where(
            ours, h.c.resident_code.in_(chunk) | h.c.previous_code.in_(chunk)
        )
        found.extend(await session.execute(query))
    unique = {row.id: row for row in found}
    return [unique[i] for i in sorted(unique)]


async def _take_numbers(session: AsyncSession, tables: WatchTables, count: int) -> int:
    """Reserve ``count`` feed numbers; the counter row stays locked until commit, so the
    feed becomes visible in number order. Returns the last number reserved."""
    head = tables.head
    statement = (
        update(head).where(head.c.id == 1).values(seq=head.c.seq + count).returning(head.c.seq)
    )
    last = (await session.execute(statement)).scalar()
    if last is None:  # a database created without the migration's counter row
        await session.execute(head.insert().values(id=1, seq=count))
        return count
    return int(last)


# --- the feed, where bodies pull it -----------------------------------------------------


@dataclass(frozen=True)
class FeedRow:
    seq: int
    watched_code: str
    resident_code: str
    previous_code: str | None
    change_reason: str
    change_date: dt.date
    record: str  # the IdentityRecord as JSON, as history keeps it


async def changes_after(
    session: AsyncSession, tables: WatchTables, history: Table, client: str, affair: str,
    after: int, limit: int,
) -> list[FeedRow]:  # fmt: skip
    """The next ``limit`` changes in ``client``'s feed for ``affair`` after ``after``."""
    f, h = tables.feed, history
    query = (
        select(
            f.c.seq,
            f.c.watched_code,
            h.c.resident_code,
            h.c.previous_code,
            h.c.change_reason,
            h.c.change_date,
            h.c.record,
        )
        .select_from(f.join(h, and_(h.c.id == f.c.history_id)))
        .where(f.c.client == client, f.c.affair == affair, f.c.seq > after)
        .order_by(f.c.seq)
        .limit(limit)
    )
    return [FeedRow(*row) for row in await session.execute(query)]
