"""The operator read API over a tier's identity records (prefecture and agency).

Resident codes travel in request bodies (POST), never in URLs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable
from typing import Any, Protocol

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.contracts.identity import IdentityRecord, ResidentCode
from jukinet.node.deps import SessionDep, guard
from jukinet.node.problems import NotFound, problem_response, problem_responses
from jukinet.records.repository import RecordRepository
from jukinet.records.tables import RecordTables

__all__ = ["ReadLogger", "RecordLookup", "RecordView", "record_counts", "records_router"]


class RecordLookup(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resident_code: ResidentCode


class HistoryEntry(BaseModel):
    version: int
    municipality: str
    previous_code: str | None
    record: IdentityRecord
    recorded_at: dt.datetime


class RecordView(BaseModel):
    record: IdentityRecord
    status: str
    version: int
    history: list[HistoryEntry]


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
        responses=problem_responses(401, 404, 422),
        summary="A resident's current identity record and its history",
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
