"""The change feed's API (異動情報の提供), beside the lookups on the agency's lookup server:
a body permitted for an affair registers the resident codes it serves, then pulls the
changes of exactly those residents, in order, from a cursor it keeps.

Each page delivered is a provision in the hash-chained log (its residents, the affair,
the fields), charged against the grant's daily quota and seen by the monitoring rules,
and it is answered only once logged — so the residents' disclosures show it. A page the
quota no longer covers is refused whole, and the same cursor asks again later: nothing
is lost and nothing repeated.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.contracts.identity import ChangeCategory, ChangeReason, ResidentCode
from jukinet.contracts.principals import Principal, PrincipalKind
from jukinet.lookups._api import (
    Affair,
    CallerDep,
    ContextDep,
    LookupContext,
    _refusal,
    refusal_responses,
)
from jukinet.lookups._authorize import Grant, Refused, authorize
from jukinet.lookups._chain import Provision
from jukinet.lookups._monitor import JST
from jukinet.lookups._table import FIELDS, QueryKind
from jukinet.lookups._watch import FeedRow, WatchTables, changes_after, unwatch, watch
from jukinet.records.store import RecordTables

__all__ = ["MAX_CODES", "subscription_router"]

log = logging.getLogger("jukinet.lookups.subscriptions")
MAX_CODES = 100_000
MAX_PAGE = 10_000
ALWAYS = ("resident_code", "change_reason", "change_date")  # what every change carries
_CODES = [["12345678903", "23456789013"]]


class SubscriptionUpdate(BaseModel):
    """Codes to start and to stop watching for one affair, up to 100,000 of each."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"affair": "pension-existence-check", "add": ["12345678903"]}]
        },
    )
    affair: Affair = Field(
        description="The affair the codes are watched for: its grant must permit the "
        "`changes` query kind.",
        examples=["pension-existence-check"],
    )
    add: list[ResidentCode] = Field(
        default_factory=list, max_length=MAX_CODES,
        description=f"Resident codes to watch (up to {MAX_CODES:,}); one already watched "
        "stays as it is.", examples=_CODES,
    )  # fmt: skip
    remove: list[ResidentCode] = Field(
        default_factory=list, max_length=MAX_CODES,
        description=f"Resident codes to stop watching (up to {MAX_CODES:,}); their changes "
        "not yet pulled are withdrawn.", examples=[["23456789013"]],
    )  # fmt: skip

    @model_validator(mode="after")
    def _not_both(self) -> SubscriptionUpdate:
        if set(self.add) & set(self.remove):
            raise ValueError("a code is either added or removed, not both")
        return self


class Subscription(BaseModel):
    """What the update changed."""

    affair: str = Field(description="The affair.", examples=["pension-existence-check"])
    added: int = Field(description="Codes of `add` not watched before.", examples=[99_874])
    removed: int = Field(
        description="Codes of `remove` that were watched (with the codes followed from "
        "them after a code change).",
        examples=[126],
    )


class ChangesAsked(BaseModel):
    """The next changes of the watched residents after a cursor."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"affair": "pension-existence-check", "cursor": "1041", "limit": 1000}]
        },
    )
    affair: Affair = Field(description="The affair.", examples=["pension-existence-check"])
    cursor: str | None = Field(
        None, pattern=r"^[0-9]{1,18}$",
        description="The `cursor` of the last change received (omitted: from the start).",
        examples=["1041"],
    )  # fmt: skip
    limit: int = Field(
        1000, ge=1, le=MAX_PAGE,
        description=f"At most this many changes (1 to {MAX_PAGE:,}); each counts once "
        "against the daily quota.", examples=[1000],
    )  # fmt: skip


class Change(BaseModel):
    """One change of a watched resident."""

    cursor: str = Field(description="This change's place in the feed.", examples=["1042"])
    resident_code: str = Field(
        description="The resident's code after the change.", examples=["12345678903"]
    )
    previous_code: str | None = Field(
        description="For a 住民票コード変更 (code_change), the code it replaced — the one the "
        "body watched; the body watches the new code from now on too.",
        examples=[None],
    )
    change_reason: ChangeReason = Field(description="異動事由.")
    change_date: dt.date = Field(description="異動年月日, YYYY-MM-DD.", examples=["2026-04-01"])
    record: dict[str, Any] = Field(
        description="The record after the change: only the fields the grant for the affair "
        "allows, and always status (live, or deleted for a 消除 such as a death).",
        examples=[{"status": "live", "address": "神奈川県平塚市浅間町9-9"}],
    )


class ChangesPage(BaseModel):
    """Changes in feed order; ask again with ``cursor`` for the next ones."""

    changes: list[Change] = Field(description="In the order they were recorded.")
    cursor: str | None = Field(
        description="The last change's cursor (the one asked, when there is none).",
        examples=["2041"],
    )
    more: bool = Field(description="Whether more changes wait after this page.", examples=[False])


def _watches(context: ContextDep) -> WatchTables:
    if context.watches is None:  # the routes are installed only with the tables
        raise RuntimeError("this lookup server keeps no change feed")
    return context.watches


Watches = Annotated[WatchTables, Depends(_watches)]


async def _permitted(
    session: AsyncSession, context: LookupContext, who: Principal, affair: str, count: int
) -> Grant | tuple[Refused, bool]:
    """The grant for the feed, or the refusal and whether the affair is a known one."""
    try:
        if who.kind is not PrincipalKind.MINISTRY:
            raise Refused("not_a_lookup_client")
        return await authorize(
            session, context.tables, client=who.name, affair=affair, kind=QueryKind.CHANGES,
            count=count, today=context.clock().astimezone(JST).date(),
        )  # fmt: skip
    except Refused as refusal:
        g = context.tables.grants
        known = (await session.scalar(select(g.c.affair).where(g.c.affair == affair))) is not None
        return refusal, known


async def _refused(
    context: LookupContext, who: Principal, affair: str, refused: tuple[Refused, bool]
) -> JSONResponse:
    """Log the refusal (as every refusal is) and answer it; the request's session is
    closed by now, so the ledger's connection is free."""
    refusal, known = refused
    entry = Provision(context.clock(), who.uri, affair, QueryKind.CHANGES.value, "refused",
                      refusal.reason, [], [])  # fmt: skip
    await context.ledger.record(entry, grant=None, count=0)
    return _refusal(context, who, affair, refusal, known=known)


def _status(reason: str) -> str:
    return "deleted" if ChangeReason(reason).category is ChangeCategory.DELETE else "live"


def _item(row: FeedRow, fields: tuple[str, ...]) -> dict[str, Any]:
    record = json.loads(row.record)
    record["status"] = _status(row.change_reason)
    return {
        "cursor": str(row.seq),
        "resident_code": row.resident_code,
        "previous_code": row.previous_code,
        "change_reason": row.change_reason,
        "change_date": row.change_date,
        "record": {f: record[f] for f in dict.fromkeys(("status", *fields)) if f in record},
    }


def _fields(grant: Grant) -> list[str]:
    """What a page provides: the grant's fields and what every change carries."""
    given = {"status", *ALWAYS, *grant.fields} - {"individual_number"}  # lookups give it
    return [f for f in FIELDS if f in given]


def subscription_router(records: RecordTables) -> APIRouter:
    router = APIRouter(prefix="/subscriptions", tags=["change notifications"])
    refusals = refusal_responses()  # query_kind_not_permitted: no `changes` in the grant

    @router.post(
        "",
        response_model=Subscription,
        responses=refusals,
        summary="Watch or stop watching residents for an affair",
        description="Adds and removes up to 100,000 resident codes each. Only a client whose "
        "grant for the affair permits the `changes` query kind (a government body), within "
        "its validity, may call it. Nothing is provided, so no provision is logged; a "
        "refusal is.",
    )
    async def update_subscription(
        body: SubscriptionUpdate, context: ContextDep, who: CallerDep, watches: Watches
    ) -> Any:
        async with context.write_sessions() as session, session.begin():
            grant = await _permitted(session, context, who, body.affair, 0)
            if isinstance(grant, Grant):
                now = context.clock()
                added = await watch(session, watches, grant.client, grant.affair, body.add, now)
                removed = await unwatch(session, watches, grant.client, grant.affair, body.remove)
        if not isinstance(grant, Grant):
            return await _refused(context, who, body.affair, grant)
        log.info(
            "subscription: client=%s affair=%s added=%d removed=%d",
            who.code, grant.affair, added, removed,
        )  # fmt: skip
        return {"affair": grant.affair, "added": added, "removed": removed}

    @router.post(
        "/changes",
        response_model=ChangesPage,
        responses=refusals,
        summary="The next changes of the watched residents",
        description="In the order recorded, after `cursor`: each change that made the current "
        "record of a resident the "
        "body watched for the affair when it was recorded — moves, deaths and other 消除, "
        "name and other corrections, code changes (with the old and the new code). Only "
        "the affair's fields, the change reason and date. A non-empty page is logged in the "
        "provision log before it is answered and counts each change against the daily "
        "quota: a page holds at most what is left of it today; with nothing left the answer is "
        "429 and the same cursor asks again.",
    )
    async def pull_changes(
        body: ChangesAsked, context: ContextDep, who: CallerDep, watches: Watches
    ) -> Any:
        after = int(body.cursor) if body.cursor is not None else 0
        rows: list[FeedRow] = []
        limit = body.limit
        async with context.sessions() as session:
            grant = await _permitted(session, context, who, body.affair, 1)
            if isinstance(grant, Grant):  # a page never asks beyond today's quota
                limit = min(body.limit, grant.remaining_today)
                rows = await changes_after(session, watches, records.history, grant.client,
                                           grant.affair, after, limit + 1)  # fmt: skip
        if not isinstance(grant, Grant):
            return await _refused(context, who, body.affair, grant)
        page, more = rows[:limit], len(rows) > limit
        if not page:
            return _page([], body.cursor, more=False)
        return await _deliver(context, who, grant, page, more)

    return router


async def _deliver(
    context: LookupContext, who: Principal, grant: Grant, page: list[FeedRow], more: bool
) -> Response:
    residents = list(dict.fromkeys(
        code for row in page for code in (row.previous_code, row.resident_code) if code
    ))  # fmt: skip
    provision = Provision(context.clock(), who.uri, grant.affair, QueryKind.CHANGES.value,
                          "provided", None, residents, _fields(grant))  # fmt: skip
    logged = await context.ledger.record(provision, grant=grant, count=len(page), asked=residents)
    if logged.outcome == "refused":
        return _refusal(context, who, grant.affair, Refused(logged.reason or "quota_exhausted"),
                        known=True)  # fmt: skip
    context.metrics.lookups.labels(grant.affair, "changes_delivered").inc(len(page))
    items = [_item(row, grant.fields) for row in page]
    return _page(items, items[-1]["cursor"], more=more)


def _page(items: list[dict[str, Any]], cursor: str | None, *, more: bool) -> Response:
    doc = {"changes": items, "cursor": cursor, "more": more}
    return Response(orjson.dumps(doc), media_type="application/json")
