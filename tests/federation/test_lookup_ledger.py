"""The provision ledger commits concurrent lookups together and charges the quota exactly:
of twenty simultaneous lookups against a quota of five, five are answered and fifteen
refused — each of the twenty logged once, and the chain still verifies."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter

import pytest

from jukinet.contracts.ids import resident_code_check_digit
from jukinet.contracts.principals import Principal, PrincipalKind
from jukinet.devtools.localfed import LocalFederation
from jukinet.pki import CertificateAuthority
from tests.federation.support import (
    MONITOR_MAX_REFUSALS,
    PersonalData,
    assert_provision_chain_verifies,
    eventually,
    execute,
    query,
)
from tests.principals import AGENCY, HIRATSUKA, MHLW

pytestmark = [pytest.mark.federation, pytest.mark.asyncio(loop_scope="session")]

# A client of its own with mhlw-license's grant, so no other test's lookups or quota
# changes count here
CLIENT = Principal(PrincipalKind.MINISTRY, "mhlw-ledger")
AFFAIR = "medical-licences"
QUOTA, CALLS = 5, 20
# fifteen refusals must not trip the repeated-refusals rule: the quota alone decides here
assert CALLS - QUOTA < MONITOR_MAX_REFUSALS


def code(body: str) -> str:
    return body + str(resident_code_check_digit(body))


async def hold_one_record(fed: LocalFederation, pd: PersonalData) -> str:
    """A new resident of Hiratsuka, once the agency holds its identity record."""
    name, address = "帳簿 一子", "神奈川県平塚市浅間町3-3"
    body = {
        "name": name, "name_kana": "チョウボ イチコ", "birth_date": "1980-06-07",
        "sex": "female", "address": address, "reason": "birth",
        "change_date": "1980-06-07", "notified_on": "1980-06-07",
    }  # fmt: skip
    pd.add(name, address)
    async with fed.client(HIRATSUKA) as client:
        r = await client.post("/residents", json=body)
    assert r.status_code == 201, r.text
    resident = str(r.json()["resident_code"])
    pd.add(resident)

    async def at_agency() -> bool:  # read directly: an operator read would be a provision
        rows = await query(
            fed, AGENCY, "SELECT count(*) FROM identity_records WHERE resident_code = :c",
            c=resident,
        )  # fmt: skip
        return int(rows[0][0]) == 1

    await eventually(at_agency)
    return resident


async def grant_of_its_own(fed: LocalFederation) -> None:
    """CLIENT: mhlw-license's organisation and grant for AFFAIR, with a quota of QUOTA."""
    await execute(
        fed, AGENCY,
        "INSERT INTO lookup_clients (client, organisation, sector, table_version) "
        "SELECT :n, organisation, sector, table_version FROM lookup_clients WHERE client = :c",
        n=CLIENT.name, c=MHLW.name,
    )  # fmt: skip
    await execute(
        fed, AGENCY,
        "INSERT INTO lookup_grants (client, affair, item, title, legal_basis, query_kinds, "
        "fields, valid_from, valid_until, daily_quota, table_version) "
        "SELECT :n, affair, item, title, legal_basis, query_kinds, fields, valid_from, "
        "valid_until, :q, table_version FROM lookup_grants WHERE client = :c AND affair = :a",
        n=CLIENT.name, q=QUOTA, c=MHLW.name, a=AFFAIR,
    )  # fmt: skip
    ca = CertificateAuthority.load(fed.layout.ca_dir)
    fed.layout.issue(ca, CLIENT, validity=dt.timedelta(days=1))


async def test_the_quota_holds_exactly_under_concurrent_lookups(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    held = await hold_one_record(federation, personal_data)
    absent = code("4000000002")
    await grant_of_its_own(federation)
    before = (await query(federation, AGENCY, "SELECT max(seq) FROM provision_log"))[0][0] or 0

    async with federation.lookup_client(AGENCY, CLIENT) as c:
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
        c=CLIENT.uri, s=before,
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
        "SELECT count FROM lookup_usage WHERE client = :c AND affair = :a",
        c=CLIENT.name, a=AFFAIR,
    )  # fmt: skip
    assert [u for (u,) in usage] == [QUOTA]

    await assert_provision_chain_verifies(federation, AGENCY)


async def test_no_personal_data_reached_any_log(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    assert personal_data.leaks(federation.root / "log") == []
