"""Reconciliation: corrupt a prefecture's and the agency's copies directly in their
databases; `jukinet reconcile` reports exactly those differences (codes and counts only),
repairs them from the municipality through the signed channel, and then finds none."""

from __future__ import annotations

import asyncio
import json

import pytest
from typer.testing import CliRunner

from jukinet.cli import app
from jukinet.cli.federation import _save_state
from jukinet.contracts.ids import generate_resident_code
from jukinet.contracts.principals import AGENCY, Principal
from jukinet.devtools.localfed import LocalFederation
from jukinet.devtools.synthetic import SyntheticResidents
from jukinet.reconcile.driver import reconcile_federation
from tests.federation.support import PersonalData, eventually, execute, query

pytestmark = [pytest.mark.federation, pytest.mark.asyncio(loop_scope="session")]

HIRATSUKA = Principal.municipality("142034")
CHIYODA = Principal.municipality("131016")
KANAGAWA = Principal.prefecture("140007")


async def populate(fed: LocalFederation, pd: PersonalData) -> dict[Principal, list[str]]:
    codes: dict[Principal, list[str]] = {}
    people = SyntheticResidents(seed=5)
    for town in (HIRATSUKA, CHIYODA):
        async with fed.client(town) as c:
            for _ in range(12):
                body = people.registration(town.code)
                pd.add_body(body)
                r = await c.post("/residents", json=body)
                codes.setdefault(town, []).append(r.json()["resident_code"])
        pd.add(*codes[town])

    async def arrived() -> bool:
        rows = await query(fed, AGENCY, "SELECT count(*) FROM identity_records")
        return int(rows[0][0]) >= 24

    await eventually(arrived)
    return codes


def nodes(fed: LocalFederation) -> dict[str, str]:
    return {p.uri: n.url for p, n in fed.nodes.items()}


async def test_reconcile_reports_exactly_the_corruption_then_repairs_it(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    codes = await populate(federation, personal_data)
    deleted, altered = codes[HIRATSUKA][0], codes[HIRATSUKA][1]
    invented = generate_resident_code()
    lost_at_agency = codes[CHIYODA][0]
    await execute(
        federation, KANAGAWA, "DELETE FROM identity_records WHERE resident_code = :c", c=deleted
    )
    await execute(
        federation,
        KANAGAWA,
        "UPDATE identity_records SET address = '改ざんされた住所' WHERE resident_code = :c",
        c=altered,
    )
    await execute(
        federation, KANAGAWA,
        "INSERT INTO identity_records SELECT :n, municipality, name, name_kana, birth_date, sex, "
        "address, change_reason, change_date, status, version, origin_message_id, updated_at "
        "FROM identity_records WHERE resident_code = :c", n=invented, c=codes[HIRATSUKA][2],
    )  # fmt: skip
    await execute(
        federation,
        AGENCY,
        "DELETE FROM identity_records WHERE resident_code = :c",
        c=lost_at_agency,
    )

    reports = {
        (r.municipality, r.tier): r.drift
        for r in await reconcile_federation(nodes(federation), federation.api_token)
    }
    assert reports[("142034", "140007")].missing == [deleted]
    assert reports[("142034", "140007")].differing == [altered]
    assert reports[("142034", "140007")].extra == [invented]
    assert reports[("142034", "jlis")].clean
    assert reports[("131016", "jlis")].missing == [lost_at_agency]
    assert reports[("131016", "130001")].clean
    dirty = {k for k, d in reports.items() if not d.clean}
    assert dirty == {("142034", "140007"), ("131016", "jlis")}

    await reconcile_federation(nodes(federation), federation.api_token, repair=True)

    async def repaired() -> bool:
        again = await reconcile_federation(nodes(federation), federation.api_token)
        return all(r.drift.clean for r in again)

    await eventually(repaired, seconds=60)
    rows = await query(
        federation,
        KANAGAWA,
        "SELECT address FROM identity_records WHERE resident_code = :c",
        c=altered,
    )
    assert rows[0][0] != "改ざんされた住所"


async def test_the_cli_reports_a_clean_federation_as_json(federation: LocalFederation) -> None:
    _save_state(federation)
    result = await asyncio.to_thread(
        CliRunner().invoke, app, ["reconcile", "--home", str(federation.root), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert {r["tier"] for r in report} == {"130001", "140007", "jlis"}
    assert all(r["missing"] == r["extra"] == r["differing"] == 0 for r in report)


async def test_no_personal_data_reached_any_log(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    personal_data.add("改ざんされた住所")
    assert personal_data.leaks(federation.root / "log") == []
