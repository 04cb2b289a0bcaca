"""Change notifications at national scale: a pension body watches a million residents,
a hundred thousand of them change, and it pulls their changes.

The watch list is registered through the lookup API (100,000 codes a request). The
changes are applied to the agency's database by the agency's own code path — the record
store's ``apply_changes`` and the feed's ``fan_out``, a thousand changes a message as a
migration's would arrive — run in this process: only the agency runs here, so no bus
carries them, and the fan-out's CPU is this process's and PostgreSQL's. The feed is then
pulled over mutual TLS, each page logged as a provision, as a pension body would.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from dataclasses import dataclass

import aiohttp
from sqlalchemy import MetaData

from jukinet.contracts.identity import ChangeReason, IdentityChange, IdentityRecord, Sex
from jukinet.contracts.principals import AGENCY, Principal, PrincipalKind
from jukinet.db.engine import create_engine, session_factory
from jukinet.devtools.bench._lookups import TOWNS, code_of
from jukinet.devtools.localfed import LocalFederation
from jukinet.lookups import fan_out, watch_tables
from jukinet.records.store import apply_changes, record_tables

__all__ = ["FeedBench", "FeedResult"]

KKR = Principal(PrincipalKind.MINISTRY, "kkr-pension")  # its grant permits `changes`
AFFAIR = "public-servant-pensions"
PER_REQUEST = 100_000
PER_MESSAGE = 1_000
PAGE = 10_000


@dataclass(frozen=True)
class FeedResult:
    watched: int
    subscribe_seconds: float
    changes: int
    fan_out_seconds: float
    delivered: int
    deliver_seconds: float


def _changes(indexes: range) -> list[IdentityChange]:
    """In-town moves of the seeded residents at ``indexes`` (their second version)."""
    today = dt.datetime.now(dt.UTC).date()
    return [
        IdentityChange(
            record=IdentityRecord(
                resident_code=code_of(i),
                municipality=TOWNS[i % 4],
                name="住基 太郎",
                name_kana="ジュウキ タロウ",
                birth_date=dt.date(1970, 1, 1),
                sex=Sex.MALE if i % 2 else Sex.FEMALE,
                address=f"合成市転居町{i % 89}丁目",
                change_reason=ChangeReason.IN_TOWN_MOVE,
                change_date=today,
            ),
            version=2,
            correlation_id=secrets.token_hex(8),
        )
        for i in indexes
    ]


@dataclass
class FeedBench:
    fed: LocalFederation
    url: str  # the agency's database

    def _session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            base_url=self.fed.lookup_servers[AGENCY].url,
            connector=aiohttp.TCPConnector(ssl=self.fed.https_client_tls(KKR), limit=2),
            timeout=aiohttp.ClientTimeout(total=600),
        )

    async def subscribe(self, watched: int) -> float:
        """Watch the first ``watched`` seeded codes; the seconds it took."""
        start = time.perf_counter()
        async with self._session() as client:
            for first in range(0, watched, PER_REQUEST):
                codes = [code_of(i) for i in range(first, min(first + PER_REQUEST, watched))]
                body = {"affair": AFFAIR, "add": codes}
                async with client.post("/subscriptions", json=body) as r:
                    r.raise_for_status()
        return time.perf_counter() - start

    async def change(self, watched: int, changes: int) -> float:
        """Apply ``changes`` moves, spread over the watched codes, through the agency's
        store and fan-out, a message's worth per transaction; the seconds it took."""
        metadata = MetaData()
        records, watches = record_tables(metadata), watch_tables(metadata)
        engine = create_engine(self.url)
        step = max(watched // changes, 1)
        indexes = range(0, step * changes, step)
        start = time.perf_counter()
        try:
            sessions = session_factory(engine)
            for first in range(0, len(indexes), PER_MESSAGE):
                batch = _changes(indexes[first : first + PER_MESSAGE])
                origin, now = secrets.token_hex(16), dt.datetime.now(dt.UTC)
                async with sessions() as session, session.begin():
                    done = await apply_changes(session, records, batch,
                                               origin_message_id=origin, now=now)  # fmt: skip
                    await fan_out(session, watches, records.history, done.transitions, now)
        finally:
            await engine.dispose()
        return time.perf_counter() - start

    async def pull(self) -> tuple[int, float]:
        """Pull the whole feed, page after page; how many changes, and the seconds."""
        delivered, cursor = 0, None
        start = time.perf_counter()
        async with self._session() as client:
            for _ in range(10_000_000 // PAGE):  # bounded: far more pages than there are
                body: dict[str, object] = {"affair": AFFAIR, "limit": PAGE}
                if cursor is not None:
                    body["cursor"] = cursor
                async with client.post("/subscriptions/changes", json=body) as r:
                    r.raise_for_status()
                    page = await r.json()
                delivered += len(page["changes"])
                cursor = page["cursor"]
                if not page["more"]:
                    break
        return delivered, time.perf_counter() - start
