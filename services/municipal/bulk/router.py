"""Bulk import of a register (text/csv body): all rows valid, or nothing imported."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from jukinet.node.deps import AuditDep, NodeDep, SessionDep, guard
from jukinet.node.problems import PROBLEM_MEDIA_TYPE, problem_responses
from jukinet.operators import AuditEntry
from municipal.bulk.csvformat import UnreadableRegister, decode_register, parse_register
from municipal.bulk.service import CodesTaken, import_register

router = APIRouter(prefix="/residents", tags=["residents"], dependencies=[guard("residents.bulk")])
MAX_REPORTED = 1000
_RESPONSES = problem_responses(401, 403, CodesTaken, 413, 422)
_RESPONSES[422] = {
    **_RESPONSES[422],
    "description": "Nothing was imported: `import-rejected`, with `rejected_rows` (how many "
    "rows are invalid) and `errors`, each row's `line` (the header is line 1; 0 for a file "
    "that is not UTF-8 or Shift_JIS text) and `problem` (the fields and rules broken, never "
    "the values), at most 1,000 of them.",
}


@router.post(
    "/import",
    status_code=201,
    responses=_RESPONSES,
    summary="Import a register from CSV (UTF-8 or Shift_JIS/CP932, documented columns) "
    "in one transaction",
    description="Migrates an existing register (docs/import.md): a header row naming the "
    "columns (name, name_kana, birth_date, sex, address, reason, change_date, "
    "resident_code; optionally former_surname, former_surname_kana, nationality, alias, "
    "alias_kana), then up to 2,000,000 residents, in the charset the Content-Type names "
    "(utf-8 or shift_jis/cp932; none named: UTF-8, else CP932). Every row is checked first: "
    "one invalid row and nothing is imported. A row keeps the resident code the old "
    "register issued; rows without one get fresh codes. Every code is claimed for this "
    "municipality and each record queued for the prefecture (and on to the agency) in the "
    "same transaction. Answers `imported` (the count) and `resident_codes` (each row's, in "
    "the file's order). Refused (409) when a row carries the code of a resident already "
    "registered here; 413 past the import cap (4 GiB by default), the body being read "
    "only once the caller is let in. Administrators and the node's token only.",
    response_description="Imported: `imported` and `resident_codes`.",
    openapi_extra={
        "requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True}
    },
)
async def import_csv(
    request: Request, session: SessionDep, node: NodeDep, audit: AuditDep
) -> JSONResponse:
    raw = await request.body()
    try:
        text = decode_register(raw, request.headers.get("content-type", ""))
    except UnreadableRegister as exc:
        return _problem(audit, [{"line": 0, "problem": str(exc)}], 0)
    rows, errors = parse_register(text)
    if errors or not rows:
        reported = [{"line": e.line, "problem": e.problem} for e in errors[:MAX_REPORTED]]
        return _problem(audit, reported or [{"line": 1, "problem": "no rows"}], len(errors))
    codes = await import_register(session, node, rows)
    # each row's resident code, in the file's order: the municipality keeps the list
    return JSONResponse({"imported": len(codes), "resident_codes": codes}, status_code=201)


def _problem(audit: AuditEntry, errors: list[dict[str, object]], count: int) -> JSONResponse:
    audit.refused(422)  # nothing was imported: the operation log says so
    body = {
        "type": "https://jukinet.example/problems/import-rejected",
        "title": "The register was not imported: some rows are invalid",
        "status": 422,
        "rejected_rows": count,
        "errors": errors,
    }
    return JSONResponse(body, status_code=422, media_type=PROBLEM_MEDIA_TYPE)
