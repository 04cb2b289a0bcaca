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
    any_,
    bindparam,
    delete,
    func,
    literal,
    null,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.db.engine import UtcDateTime
from jukinet.records.store import Transition
from jukinet.records.tables import RecordRow

__all__ = [
    "FeedRow",
    "WatchTables",
    "changes_after",
    "fan_out",
    "unwatch",
    "watch",
    "watch_tables",
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
        # a code watched because the body's code was replaced (住民票コード変更): the code
        # the body registered, so that dropping it drops what was followed from it
        Column("origin_code", String(11), nullable=True),
        Index("ix_change_subscriptions_code", "resident_code"),
        Index("ix_change_subscriptions_origin", "client", "affair", "origin_code"),
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
) -> int:  # fmt: skip
    """Add ``codes`` to what ``client`` watches for ``affair`` (each watched in its own
    right from now, even one followed so far from a replaced code); how many are new."""
    codes = list(dict.fromkeys(codes))
    if not codes:
        return 0
    known = await _watched(session, tables, client, affair, codes)
    w = tables.watches
    key = [w.c.client, w.c.affair, w.c.resident_code]
    if _is_postgresql(session):  # one statement for the whole batch
        listed = func.unnest(_codes_param())
        source = select(literal(client), literal(affair), listed, literal(now, UtcDateTime()),
                        null())  # fmt: skip
        columns = ["client", "affair", "resident_code", "since", "origin_code"]
        statement = postgresql.insert(w).from_select(columns, source)
        statement = statement.on_conflict_do_update(index_elements=key, set_={"origin_code": None})
        await session.execute(statement, {"codes": codes})
        return len(codes) - len(known)
    rows = [{"client": client, "affair": affair, "resident_code": c, "since": now,
             "origin_code": None} for c in codes]  # fmt: skip
    upsert = sqlite.insert(w).on_conflict_do_update(index_elements=key, set_={"origin_code": None})
    await session.execute(upsert, rows)
    return len(codes) - len(known)


def _codes_param() -> Any:
    return bindparam("codes", type_=postgresql.ARRAY(String(11)))


async def _follow(
    session: AsyncSession, tables: WatchTables, client: str, affair: str, code: str,
    origin: str, now: dt.datetime,
) -> None:  # fmt: skip
    """Watch ``code`` as followed from the registered ``origin`` (kept as it is if the
    body already watches it)."""
    row = {"client": client, "affair": affair, "resident_code": code, "since": now,
           "origin_code": origin}  # fmt: skip
    dialect = postgresql if _is_postgresql(session) else sqlite
    await session.execute(dialect.insert(tables.watches).on_conflict_do_nothing(), [row])


async def _watched(
    session: AsyncSession, tables: WatchTables, client: str, affair: str, codes: Sequence[str]
) -> set[str]:
    """Which of ``codes`` the body watches already (PostgreSQL: one array statement)."""
    w = tables.watches
    mine = (w.c.client == client) & (w.c.affair == affair)
    if _is_postgresql(session):
        query = select(w.c.resident_code).where(mine, w.c.resident_code == any_(_codes_param()))
        return set(await session.scalars(query, {"codes": list(codes)}))
    found: set[str] = set()
    for chunk in _chunks(codes):
        query = select(w.c.resident_code).where(mine, w.c.resident_code.in_(chunk))
        found.update(await session.scalars(query))
    return found


async def unwatch(
    session: AsyncSession, tables: WatchTables, client: str, affair: str, codes: Sequence[str]
) -> int:
    """Stop watching ``codes`` and whatever was followed from them (the person's later
    codes); their changes not yet pulled are withdrawn too — the body no longer serves
    these residents, so it receives nothing more of theirs. How many codes it named were
    watched."""
    w, f = tables.watches, tables.feed
    named = list(dict.fromkeys(codes))
    removed = len(await _watched(session, tables, client, affair, named))
    for chunk in _chunks(named):
        mine = (w.c.client == client) & (w.c.affair == affair)
        followed = select(w.c.resident_code).where(mine, w.c.origin_code.in_(chunk))
        dropped = [*chunk, *(await session.scalars(followed))]
        for part in _chunks(dropped):
            await session.execute(delete(w).where(mine, w.c.resident_code.in_(part)))
            pending = (f.c.client == client) & (f.c.affair == affair)
            await session.execute(delete(f).where(pending, f.c.watched_code.in_(part)))
    return removed


# --- fan-out, where changes are applied -------------------------------------------------


async def fan_out(
    session: AsyncSession, tables: WatchTables, history: Table,
    transitions: Sequence[Transition], now: dt.datetime,
) -> int:  # fmt: skip
    """Put each transition of a resident's current record (as ``apply_changes`` reports
    them, in order) into the feed of every body watching that resident — by its code, or
    by the code a code change replaced. Returns the rows added."""
    codes = {t.row.resident_code for t in transitions}
    codes |= {t.previous_code for t in transitions if t.previous_code}
    watchers = await _watchers(session, tables, sorted(codes))
    if not watchers:
        return 0
    await _follow_new_codes(session, tables, transitions, watchers, now)
    ids = await _history_ids(session, history, transitions, watchers)
    entries: dict[tuple[int, str, str], dict[str, Any]] = {}
    for t in transitions:
        history_id = ids.get(_key(t.row))
        for watched in (t.previous_code, t.row.resident_code):  # the old code first
            for client, affair, _ in watchers.get(watched or "", []):
                if history_id is None:
                    continue
                entries.setdefault((history_id, client, affair), {
                    "client": client, "affair": affair, "watched_code": watched,
                    "history_id": history_id, "recorded_at": now,
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
) -> dict[str, list[tuple[str, str, str]]]:
    """Who watches each of ``codes`` (client, affair, and the code they registered): by
    the watch list's code index, nothing else."""
    w = tables.watches
    found: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for chunk in _chunks(codes):
        query = select(w.c.resident_code, w.c.client, w.c.affair, w.c.origin_code).where(
            w.c.resident_code.in_(chunk)
        )
        for code, client, affair, origin in await session.execute(query):
            found[code].append((client, affair, origin or code))
    return dict(found)


async def _follow_new_codes(
    session: AsyncSession, tables: WatchTables, transitions: Sequence[Transition],
    watchers: dict[str, list[tuple[str, str, str]]], now: dt.datetime,
) -> None:  # fmt: skip
    """The watchers of a replaced code watch the new one from now on — this batch's
    later changes of the person included — as followed from the code they registered."""
    for t in transitions:
        old, new = t.previous_code, t.row.resident_code
        for client, affair, origin in watchers.get(old or "", []):
            await _follow(session, tables, client, affair, new, origin, now)
            mine = [(c, a) for c, a, _ in watchers.get(new, [])]
            if (client, affair) not in mine:
                watchers.setdefault(new, []).append((client, affair, origin))


def _key(row: RecordRow) -> tuple[str, str, int, str]:
    return row.resident_code, row.municipality, row.version, row.origin_message_id


async def _history_ids(
    session: AsyncSession, history: Table, transitions: Sequence[Transition],
    watchers: dict[str, list[tuple[str, str, str]]],
) -> dict[tuple[str, str, int, str], int]:  # fmt: skip
    """The history row of each watched transition, read by resident code (its index):
    the row that code, town, version and message wrote."""
    h = history
    codes = sorted({
        t.row.resident_code for t in transitions
        if t.row.resident_code in watchers or (t.previous_code or "") in watchers
    })  # fmt: skip
    ids: dict[tuple[str, str, int, str], int] = {}
    for chunk in _chunks(codes):
        query = select(
            h.c.id, h.c.resident_code, h.c.municipality, h.c.version, h.c.origin_message_id
        ).where(h.c.resident_code.in_(chunk))
        for row in await session.execute(query):
            key = (row.resident_code, row.municipality, row.version, row.origin_message_id)
            ids[key] = max(ids.get(key, 0), row.id)
    return ids


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
