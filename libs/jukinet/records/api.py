"""The operator read API over a tier's identity records (prefecture and agency).

Resident codes travel in request bodies (POST), never in URLs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable
from typing import Any, Protocol

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.contracts.identity import IdentityRecord, ResidentCode
from jukinet.node.deps import SessionDep, guard
from jukinet.node.problems import NotFound, problem_response, problem_responses
from jukinet.records.repository import RecordRepository
from jukinet.records.tables import RecordTables

__all__ = ["ReadLogger", "RecordLookup", "RecordView", "record_counts", "records_router"]


class RecordLookup(BaseModel):
    """Whose identity record to read."""

    model_config = ConfigDict(extra="forbid")

    resident_code: ResidentCode = Field(
        description="The resident code (住民票コード): 11 digits, the last a check digit.",
        examples=["12345678903"],
    )


class HistoryEntry(BaseModel):
    """One accepted change of the record, as this tier received it."""

    version: int = Field(
        description="The record's version at the municipality that sent it (1 first).",
        examples=[2],
    )
    municipality: str = Field(
        description="The municipality that sent the change (its 6-digit code).",
        examples=["142034"],
    )
    previous_code: str | None = Field(
        description="The code replaced, for a 住民票コード変更 only.", examples=[None]
    )
    record: IdentityRecord
    recorded_at: dt.datetime = Field(
        description="When this tier accepted the change (UTC).",
        examples=["2026-04-01T01:30:00Z"],
    )


class RecordView(BaseModel):
    """A resident's current identity record at this tier, and every change to it."""

    record: IdentityRecord
    status: str = Field(
        description="live; deleted (消除, kept with its date); or retired (the code was "
        "replaced by a new one).",
        examples=["live"],
    )
    version: int = Field(
        description="The current version at the municipality that holds the record.",
        examples=[2],
    )
    history: list[HistoryEntry] = Field(description="Every accepted change, oldest first.")


async def record_counts(session: AsyncSession, tables: RecordTables) -> dict[str, Any]:
    """Current records per status and history rows, for the status page."""
    return await RecordRepository(session, tables).counts()


class ReadLogger(Protocol):
    """Logs an operator's read of a record like any provision (a serving node's
    provision log, see ``jukinet.lookups.operator_read_logger``)."""

    def __call__(self, session: AsyncSession, code: str, *, found: bool) -> Awaitable[None]: ...


def records_router(tables: RecordTables, log_read: ReadLogger) -> APIRouter:
    router = APIRouter(prefix="/records", tags=["records"], dependencies=[guard("records.read")])

    @router.post(
        "/lookup",
        response_model=RecordView,
        responses=problem_responses(401, 403, 404, 422),
        summary="A resident's current identity record and its history",
        description="The identity record this tier holds under the resident code, its "
        "status and every accepted change, oldest first. Counter staff (clerks, "
        "supervisors) and the node's token may read; every read, found or not, is logged "
        "as a provision, so the resident's disclosure shows it. 404 when no record has "
        "the code.",
    )
    async def lookup(body: RecordLookup, session: SessionDep) -> RecordView | JSONResponse:
        repo = RecordRepository(session, tables)
        row = await repo.get(body.resident_code)
        await log_read(session, body.resident_code, found=row is not None)
        if row is None:
            missing = NotFound("no identity record with that code")
            return problem_response(missing.status, missing.body())  # keeps the log entry
        history = await repo.history(body.resident_code)
        return RecordView(
            record=row.identity(),
            status=row.status,
            version=row.version,
            history=[
                HistoryEntry(
                    version=e.version,
                    municipality=e.municipality,
                    previous_code=e.previous_code,
                    record=e.identity(),
                    recorded_at=e.recorded_at,
                )
                for e in history
            ],
        )

    return router
