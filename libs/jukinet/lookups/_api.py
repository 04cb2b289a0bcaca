"""The lookup API: HTTPS with client certificates; the certificate's principal is the
caller. POST only — resident codes and facts travel in bodies, never in URLs or logs.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Table, exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jukinet.contracts.identity import Address, Name, ResidentCode, Sex
from jukinet.contracts.principals import Principal, PrincipalKind
from jukinet.lookups._authorize import Grant, Refused, authorize
from jukinet.lookups._chain import Provision
from jukinet.lookups._ledger import ProvisionLedger
from jukinet.lookups._monitor import JST
from jukinet.lookups._query import by_code, by_codes, by_facts, project
from jukinet.lookups._store import LookupTables
from jukinet.lookups._table import QueryKind
from jukinet.lookups._watch import WatchTables
from jukinet.node.metrics import Metrics
from jukinet.node.problems import PROBLEM_MEDIA_TYPE, Unauthorized, problem_responses
from jukinet.node.state import AppSlot
from jukinet.node.tlsasgi import client_certificate_pem
from jukinet.pki import PkiError, PresentedCertificates, Purpose, TrustStore, utcnow
from jukinet.records.store import RecordTables

__all__ = ["LOOKUPS", "LookupContext", "lookup_router"]

log = logging.getLogger("jukinet.lookups")
Affair = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,59}$", description="affair id")]
MAX_BATCH = 10_000


@dataclass(frozen=True)
class LookupContext:
    """What a running lookup app reads (its lifespan puts it in :data:`LOOKUPS`)."""

    sessions: async_sessionmaker[AsyncSession]
    records: RecordTables
    tables: LookupTables
    trust: TrustStore
    metrics: Metrics
    ledger: ProvisionLedger
    clock: Callable[[], dt.datetime] = utcnow
    # the change feed (agency): its tables, and sessions that write (``sessions`` only read)
    watches: WatchTables | None = None
    writes: async_sessionmaker[AsyncSession] | None = None
    numbers: Table | None = None  # the 個人番号 registry (the agency's)
    certificates: PresentedCertificates = field(init=False)

    def __post_init__(self) -> None:
        # per request only validity and revocation; chain and name once per certificate
        object.__setattr__(self, "certificates", PresentedCertificates(self.trust, Purpose.TLS))

    def write_sessions(self) -> AsyncSession:
        if self.writes is None:
            raise RuntimeError("this lookup server does not write")
        return self.writes()


LOOKUPS: AppSlot[LookupContext] = AppSlot("lookups", LookupContext)


async def _context(request: Request) -> LookupContext:
    return LOOKUPS.of(request.app)


ContextDep = Annotated[LookupContext, Depends(_context)]


_AFFAIR = "The affair (事務) the lookup is for, as the permission table names it."
_CODE = "A resident code (住民票コード): 11 digits, the last a check digit."
_RECORD = (
    "Only the fields the client's grant for the affair allows, and always status "
    "(live, deleted or retired). Dates are YYYY-MM-DD."
)
_EXAMPLE_RECORD: dict[str, Any] = {"status": "live", "address": "神奈川県平塚市浅間町9-9"}
_AFFAIR_EXAMPLE = "pension-existence-check"
_CODE_EXAMPLE = "12345678903"


class ByCode(BaseModel):
    """One resident by resident code."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"affair": "pension-existence-check", "resident_code": "12345678903"}]
        },
    )
    affair: Affair = Field(description=_AFFAIR, examples=[_AFFAIR_EXAMPLE])
    resident_code: ResidentCode = Field(description=_CODE, examples=[_CODE_EXAMPLE])


class ByFacts(BaseModel):
    """One resident by the four facts. Names compare without spaces, width-folded and
    with old and variant kanji in their common form; addresses width- and space-folded.
    Two or more matches answer ambiguous: the server never guesses."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "affair": "passport-issuance",
                    "name": "平塚 一郎",
                    "birth_date": "1970-01-02",
                    "sex": "male",
                    "address": "神奈川県平塚市浅間町9-9",
                }
            ]
        },
    )
    affair: Affair = Field(description=_AFFAIR, examples=["passport-issuance"])
    name: Name = Field(
        description="Family and given name, as registered (kanji).", examples=["平塚 一郎"]
    )
    birth_date: dt.date = Field(description="Date of birth, YYYY-MM-DD.", examples=["1970-01-02"])
    sex: Sex = Field(description="male or female.")
    address: Address | None = Field(
        None, description="The registered address, if known.", examples=["神奈川県平塚市浅間町9-9"]
    )


class Batch(BaseModel):
    """Up to 10,000 residents by resident code; each code asked once."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "affair": "pension-existence-check",
                    "resident_codes": ["12345678903", "23456789013"],
                }
            ]
        },
    )
    affair: Affair = Field(description=_AFFAIR, examples=[_AFFAIR_EXAMPLE])
    resident_codes: list[ResidentCode] = Field(
        min_length=1,
        max_length=MAX_BATCH,
        description=f"1 to {MAX_BATCH:,} resident codes.",
        examples=[[_CODE_EXAMPLE, "23456789013"]],
    )


class CodeResult(BaseModel):
    """The answer to a lookup by resident code."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"found": True, "record": _EXAMPLE_RECORD}]}
    )
    found: bool = Field(
        description="Whether a live or deleted record holds the code.", examples=[True]
    )
    record: dict[str, Any] | None = Field(None, description=_RECORD, examples=[_EXAMPLE_RECORD])


class FactsResult(BaseModel):
    """The answer to a lookup by the four facts."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"match": "unique", "record": _EXAMPLE_RECORD}]}
    )
    match: Literal["unique", "none", "ambiguous"] = Field(
        description="unique: one live resident matches; none; ambiguous: more than one.",
        examples=["unique"],
    )
    record: dict[str, Any] | None = Field(
        None, description=_RECORD + " Only when unique.", examples=[_EXAMPLE_RECORD]
    )


class BatchItem(BaseModel):
    """One code of a batch lookup and what was found under it."""

    resident_code: str = Field(description="The code asked about.", examples=[_CODE_EXAMPLE])
    found: bool = Field(description="Whether a record holds the code.", examples=[True])
    record: dict[str, Any] | None = Field(None, description=_RECORD, examples=[_EXAMPLE_RECORD])


class BatchResult(BaseModel):
    """The answer to a batch lookup."""

    results: list[BatchItem] = Field(description="One item per code asked, in order.")


def caller(request: Request, context: ContextDep) -> Principal:
    """The principal named by the verified client certificate of this connection, checked
    on every request (a keep-alive connection opened before a revocation is refused too)."""
    pem = client_certificate_pem(request.scope)
    if pem is None:
        raise Unauthorized("a client certificate is required")
    try:
        return context.certificates.verify(pem, context.clock())
    except (PkiError, ValueError):
        raise Unauthorized("the client certificate is not acceptable") from None


CallerDep = Annotated[Principal, Depends(caller)]


async def _read_session(context: ContextDep) -> AsyncIterator[AsyncSession]:
    """A session that only reads; the handler closes it before waiting on the ledger
    (which writes on a connection of its own), so no request holds a connection idle."""
    async with context.sessions() as session:
        yield session


LookupSession = Annotated[AsyncSession, Depends(_read_session, scope="function")]
Answer = dict[str, Any]  # the response document, in the shape of the route's model
Run = Callable[[Grant], Awaitable[tuple[Answer, Provision]]]


def _answer(doc: Answer) -> Response:
    """The answer as JSON, written once (dates as ISO 8601): the document is built in
    its model's shape by the handler itself, so it is not validated a second time."""
    return Response(orjson.dumps(doc), media_type="application/json")


async def _lookup(
    context: LookupContext,
    session: AsyncSession,
    who: Principal,
    *,
    affair: str,
    kind: QueryKind,
    asked: list[str],
    run: Run,
) -> Response:
    """Decide, read, then commit the provision to the ledger — and answer only once it
    is logged. The request's own session only reads, and is closed before the wait."""
    now = context.clock()
    count = max(len(asked), 1)
    try:
        if who.kind is not PrincipalKind.MINISTRY:
            raise Refused("not_a_lookup_client")
        grant = await authorize(
            session, context.tables, client=who.name, affair=affair, kind=kind,
            count=count, today=now.astimezone(JST).date(),
        )  # fmt: skip
    except Refused as refusal:
        known = await _known_affair(session, context, affair)
        await session.close()
        refused = Provision(now, who.uri, affair, kind.value, "refused", refusal.reason, asked, [])
        await context.ledger.record(refused, grant=None, count=0)
        return _refusal(context, who, affair, refusal, known=known)
    result, provision = await run(grant)
    await session.close()
    logged = await context.ledger.record(provision, grant=grant, count=count, asked=asked)
    if logged.outcome == "refused":  # the quota ran out while this lookup was read
        late = Refused(logged.reason or "quota_exhausted")
        return _refusal(context, who, grant.affair, late, known=True)
    context.metrics.lookups.labels(grant.affair, provision.outcome).inc()
    log.info(
        "lookup: client=%s affair=%s kind=%s outcome=%s",
        who.code,
        affair,
        kind.value,
        provision.outcome,
    )
    return _answer(result)


def _refusal(
    context: LookupContext, who: Principal, affair: str, refusal: Refused, *, known: bool
) -> JSONResponse:
    """Metric labels take only affairs in the permission table (bounded, never input)."""
    label = affair if known else "unknown"
    context.metrics.lookups.labels(label, f"refused:{refusal.reason}").inc()
    log.warning("lookup refused: client=%s affair=%s reason=%s", who.code, label, refusal.reason)
    return JSONResponse(refusal.body(), status_code=refusal.status, media_type=PROBLEM_MEDIA_TYPE)


async def _known_affair(session: AsyncSession, context: LookupContext, affair: str) -> bool:
    g = context.tables.grants
    return bool(await session.scalar(select(exists().where(g.c.affair == affair))))


def _provided(
    grant: Grant, kind: QueryKind, outcome: str, residents: list[str], at: dt.datetime
) -> Provision:
    fields = list(grant.fields) if residents else []
    return Provision(at, "", grant.affair, kind.value, outcome, None, residents, fields)


_WHO = (
    "Only a lookup client of the permission table, by its client certificate, with a grant "
    "for the affair, for a query kind the grant permits, within its validity and daily "
    "quota, may call it; a private-sector client never by resident code. The answer is "
    "sent once the provision is committed to the provision ledger; a refusal is logged "
    "there too."
)


def refusal_responses() -> dict[int | str, dict[str, Any]]:
    """The documented error answers of every lookup-server route, each reason named."""
    refusals = problem_responses(401, 403, 422, 429)
    refusals[403]["description"] = f"Refused (`{Refused.type}`); `reason` is one of: " + ", ".join(
        f"`{code}` ({text})" for code, text in Refused.reasons.items() if code != "quota_exhausted"
    )
    refusals[429]["description"] = (
        f"Refused (`{Refused.type}`): `quota_exhausted` (the daily quota is used up)."
    )
    refusals[401]["description"] = "No acceptable client certificate."
    refusals[422]["description"] = "Invalid request: each error's field and message (en, ja)."
    return refusals


def lookup_router() -> APIRouter:
    router = APIRouter(prefix="/lookups", tags=["lookups"])
    refusals = refusal_responses()

    @router.post(
        "/by-code",
        response_model=CodeResult,
        responses=refusals,
        summary="One resident by resident code",
        description="The record under the resident code, projected to the fields the "
        "caller's grant for the affair allows. " + _WHO,
    )
    async def lookup_by_code(
        body: ByCode,
        context: ContextDep,
        session: LookupSession,
        who: CallerDep,
    ) -> Any:

        async def run(grant: Grant) -> tuple[Answer, Provision]:
            row = await by_code(session, context.records, body.resident_code, context.numbers)
            now = context.clock()
            if row is None:
                return {"found": False, "record": None}, _with(
                    who, _provided(grant, QueryKind.BY_CODE, "not_found", [], now)
                )
            provided = _provided(grant, QueryKind.BY_CODE, "provided", [body.resident_code], now)
            answer = {"found": True, "record": project(row, grant.fields)}
            return answer, _with(who, provided)

        return await _lookup(
            context,
            session,
            who,
            affair=body.affair,
            kind=QueryKind.BY_CODE,
            asked=[body.resident_code],
            run=run,
        )

    @router.post(
        "/by-facts",
        response_model=FactsResult,
        responses=refusals,
        summary="One resident by name, birth date, sex (and address)",
        description="The one live resident matching the four facts (4情報), projected to "
        "the fields the grant allows; none or ambiguous answer no record. Also open to a "
        "private-sector client. " + _WHO,
    )
    async def lookup_by_facts(
        body: ByFacts,
        context: ContextDep,
        session: LookupSession,
        who: CallerDep,
    ) -> Any:

        async def run(grant: Grant) -> tuple[Answer, Provision]:
            rows = await by_facts(
                session, context.records, name=body.name, birth_date=body.birth_date,
                sex=body.sex.value, address=body.address, numbers=context.numbers,
            )  # fmt: skip
            now = context.clock()
            if len(rows) != 1:
                match = "none" if not rows else "ambiguous"
                outcome = "not_found" if not rows else "ambiguous"
                return {"match": match, "record": None}, _with(
                    who, _provided(grant, QueryKind.BY_FACTS, outcome, [], now)
                )
            code = rows[0].resident_code
            provided = _provided(grant, QueryKind.BY_FACTS, "provided", [code], now)
            answer = {"match": "unique", "record": project(rows[0], grant.fields)}
            return answer, _with(who, provided)

        return await _lookup(
            context, session, who, affair=body.affair, kind=QueryKind.BY_FACTS, asked=[], run=run
        )

    @router.post(
        "/batch",
        response_model=BatchResult,
        responses=refusals,
        summary="Up to 10,000 residents by resident code",
        description="Each code's record, projected to the fields the grant allows, in the "
        "order asked (a code asked twice is answered once); the batch counts one lookup "
        "per code against the quota. " + _WHO,
    )
    async def lookup_batch(
        body: Batch, context: ContextDep, session: LookupSession, who: CallerDep
    ) -> Any:
        codes = list(dict.fromkeys(body.resident_codes))

        async def run(grant: Grant) -> tuple[Answer, Provision]:
            found = await by_codes(session, context.records, codes, grant.fields, context.numbers)
            items = [
                {"resident_code": c, "found": c in found, "record": found.get(c)} for c in codes
            ]
            provided = _provided(
                grant,
                QueryKind.BATCH,
                "provided",
                [c for c in codes if c in found],
                context.clock(),
            )
            return {"results": items}, _with(who, provided)

        return await _lookup(
            context, session, who, affair=body.affair, kind=QueryKind.BATCH, asked=codes, run=run
        )

    return router


def _with(who: Principal, p: Provision) -> Provision:
    return Provision(
        p.at, who.uri, p.affair, p.query_kind, p.outcome, p.reason, p.residents, p.fields
    )
