"""The provision ledger commits concurrent lookups together and charges the quota exactly:
of twenty simultaneous lookups against a quota of five, five are answered and fifteen
refused — each of the twenty logged once, and the chain still verifies."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter

import pytest
from sqlalchemy import MetaData
from typer.testing import CliRunner

from jukinet.cli import app
from jukinet.contracts.ids import resident_code_check_digit
from jukinet.contracts.principals import AGENCY, Principal, PrincipalKind
from jukinet.db.engine import create_engine
from jukinet.devtools.localfed import LocalFederation
from jukinet.records.store import record_tables
from tests.federation.support import PersonalData, database_url_of, execute, query

pytestmark = [pytest.mark.federation, pytest.mark.asyncio(loop_scope="session")]

RUN_NODES = {AGENCY}
# fifteen refusals must not trip the repeated-refusals rule: the quota alone decides here
EXTRA_ENV = {"JUKINET_AGENCY_MONITOR_MAX_REFUSALS_PER_10_MINUTES": "1000"}
MHLW = Principal(PrincipalKind.MINISTRY, "mhlw-license")
AFFAIR = "medical-licences"
QUOTA, CALLS = 5, 20


def code(body: str) -> str:
    return body + str(resident_code_check_digit(body))


async def hold_one_record(fed: LocalFederation, pd: PersonalData) -> str:
    """One identity record at the agency (written directly: no municipality runs here)."""
    resident = code("4000000001")
    name, address = "帳簿 一子", "神奈川県平塚市浅間町3-3"
    row = {
        "resident_code": resident, "municipality": "142034", "name": name,
        "name_kana": "チョウボ イチコ", "birth_date": dt.date(1980, 6, 7), "sex": "female",
        "address": address, "change_reason": "birth",
        "change_date": dt.date(1980, 6, 7), "status": "live", "version": 1,
        "origin_message_id": "0" * 32, "updated_at": dt.datetime.now(dt.UTC),
    }  # fmt: skip
    pd.add(name, address, resident)
    engine = create_engine(database_url_of(fed, AGENCY))
    try:
        async with engine.begin() as conn:
            await conn.execute(record_tables(MetaData()).records.insert().values(row))
    finally:
        await engine.dispose()
    return resident


async def test_the_quota_holds_exactly_under_concurrent_lookups(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    held = await hold_one_record(federation, personal_data)
    absent = code("4000000002")
    await execute(
        federation, AGENCY,
        "UPDATE lookup_grants SET daily_quota = :q WHERE client = 'mhlw-license' AND affair = :a",
        q=QUOTA, a=AFFAIR,
    )  # fmt: skip
    before = (await query(federation, AGENCY, "SELECT count(*) FROM provision_log"))[0][0]

    async with federation.lookup_client(AGENCY, MHLW) as c:
        responses = await asyncio.gather(
            *(
                c.post(
                    "/lookups/by-code",
                    json={"affair": AFFAIR, "resident_code": held if i % 2 else absent},
                )
                for i in range(CALLS)
            )
        )

    answered = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code != 200]
    assert len(answered) == QUOTA, [r.status_code for r in responses]
    assert {r.status_code for r in refused} == {429}
    assert all(r.headers["content-type"] == "application/problem+json" for r in refused)
    assert {r.json()["reason"] for r in refused} == {"quota_exhausted"}
    assert all("帳簿" not in r.text for r in refused)

    entries = await query(
        federation, AGENCY,
        "SELECT outcome, reason, fields FROM provision_log WHERE client = :c AND seq > :s",
        c=MHLW.uri, s=before,
    )  # fmt: skip
    assert len(entries) == CALLS
    outcomes = Counter(outcome for outcome, _, _ in entries)
    found = sum(1 for r in answered if r.json()["found"])
    assert outcomes == Counter(
        {"provided": found, "not_found": QUOTA - found, "refused": CALLS - QUOTA}
    )
    assert {(reason, fields) for outcome, reason, fields in entries if outcome == "refused"} == {
        ("quota_exhausted", "")
    }
    usage = await query(
        federation, AGENCY,
        "SELECT count FROM lookup_usage WHERE client = 'mhlw-license' AND affair = :a", a=AFFAIR,
    )  # fmt: skip
    assert [u for (u,) in usage] == [QUOTA]

    total = (await query(federation, AGENCY, "SELECT count(*) FROM provision_log"))[0][0]
    args = [
        "audit", "verify", "--db", database_url_of(federation, AGENCY),
        "--node", AGENCY.uri, "--pki-root", str(federation.layout.root),
    ]  # fmt: skip
    result = await asyncio.to_thread(CliRunner().invoke, app, args)
    assert result.exit_code == 0, result.output
    assert f"{total} entries verified" in result.output


async def test_no_personal_data_reached_any_log(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    assert personal_data.leaks(federation.root / "log") == []


@pytest.fixture(scope="module")
def federation(own_federation: LocalFederation) -> LocalFederation:
    """This module's own federation (its RUN_NODES and EXTRA_ENV)."""
    return own_federation
