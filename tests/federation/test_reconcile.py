"""Reconciliation: corrupt a prefecture's and the agency's copies directly in their
databases; `jukinet reconcile` reports exactly those differences (codes and counts only),
repairs them from the municipality through the signed channel, and then finds none.

The federation is shared: other modules' drift is there before and may settle meanwhile,
so each report is this test's corruption exactly, plus nothing that was not there before.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from typer.testing import CliRunner

from jukinet.cli import app
from jukinet.cli.federation import _save_state
from jukinet.contracts.ids import generate_resident_code
from jukinet.contracts.principals import Principal
from jukinet.devtools.localfed import LocalFederation
from jukinet.devtools.synthetic import SyntheticResidents
from jukinet.reconcile.digests import Drift
from tests.federation.isolation import about, besides, drifts, settled_drifts, within
from tests.federation.support import PersonalData, eventually, execute, query
from tests.principals import AGENCY, CHIYODA, HIRATSUKA, KANAGAWA

pytestmark = [pytest.mark.federation, pytest.mark.asyncio(loop_scope="session")]

# every code this module registered or invented (the CLI test checks them too)
OURS: set[str] = set()


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

    mine = [c for town_codes in codes.values() for c in town_codes]
    OURS.update(mine)
    listed = ", ".join(f"'{c}'" for c in mine)

    async def arrived() -> bool:
        rows = await query(
            fed, AGENCY, f"SELECT count(*) FROM identity_records WHERE resident_code IN ({listed})"
        )
        return int(rows[0][0]) == 24

    await eventually(arrived)
    return codes


async def test_reconcile_reports_exactly_the_corruption_then_repairs_it(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    codes = await populate(federation, personal_data)
    deleted, altered = codes[HIRATSUKA][0], codes[HIRATSUKA][1]
    invented = generate_resident_code()
    OURS.add(invented)
    before = await settled_drifts(federation)  # other modules' drift, if any
    assert all(about(d, OURS).clean for d in before.values())
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
        "INSERT INTO identity_records (resident_code, municipality, name, birth_date, sex, "
        "address, change_reason, change_date, status, version, origin_message_id, updated_at) "
        "SELECT :n, municipality, name, birth_date, sex, address, change_reason, change_date, "
        "status, version, origin_message_id, updated_at FROM identity_records "
        "WHERE resident_code = :c", n=invented, c=codes[HIRATSUKA][2],
    )  # fmt: skip
    await execute(
        federation,
        AGENCY,
        "DELETE FROM identity_records WHERE resident_code = :c",
        c=lost_at_agency,
    )

    reports = await drifts(federation)
    assert reports.keys() == before.keys()
    ours = {k: about(d, OURS) for k, d in reports.items()}
    assert ours[("142034", "140007")] == Drift(
        missing=[deleted], extra=[invented], differing=[altered]
    )
    assert ours[("142034", "jlis")].clean
    assert ours[("131016", "jlis")] == Drift(missing=[lost_at_agency])
    assert ours[("131016", "130001")].clean
    dirty = {k for k, d in ours.items() if not d.clean}
    assert dirty == {("142034", "140007"), ("131016", "jlis")}
    for key, drift in reports.items():  # and nothing invented about anyone else
        assert within(besides(drift, OURS), before[key]), key

    _save_state(federation)
    result = await asyncio.to_thread(
        CliRunner().invoke, app, ["reconcile", "--home", str(federation.root), "--repair"]
    )
    assert result.exit_code == 0, result.output
    said = {line.split()[1].rstrip(":"): line for line in result.output.splitlines()
            if line.startswith("repair ")}  # fmt: skip
    assert set(said) >= {"142034", "131016"}
    assert "current records and" in said["142034"]

    async def repaired() -> bool:
        again = await drifts(federation)
        return all(
            about(d, OURS).clean and within(besides(d, OURS), before[k]) for k, d in again.items()
        )

    await eventually(repaired, seconds=60)
    rows = await query(
        federation,
        KANAGAWA,
        "SELECT address FROM identity_records WHERE resident_code = :c",
        c=altered,
    )
    assert rows[0][0] != "改ざんされた住所"


async def test_the_cli_reports_a_clean_federation_as_json(federation: LocalFederation) -> None:
    """Clean about everything this module did; what other modules left is reported as the
    driver sees it, and the exit code says whether anything is left at all."""
    _save_state(federation)
    for _ in range(5):  # bounded: until nothing moved between the driver's look and the CLI's
        expected = await settled_drifts(federation)
        result = await asyncio.to_thread(
            CliRunner().invoke, app, ["reconcile", "--home", str(federation.root), "--json"]
        )
        report = json.loads(result.output)
        if {(r["municipality"], r["tier"]): _drift(r) for r in report} == expected:
            break
    assert {r["tier"] for r in report} == {"130001", "140007", "jlis"}
    assert {(r["municipality"], r["tier"]): _drift(r) for r in report} == expected
    for r in report:
        assert (r["missing"], r["extra"], r["differing"]) == (
            len(r["codes"]["missing"]), len(r["codes"]["extra"]), len(r["codes"]["differing"])
        )  # fmt: skip
    assert all(about(d, OURS).clean for d in expected.values())
    clean = all(d.clean for d in expected.values())
    assert result.exit_code == (0 if clean else 1), result.output


def _drift(report: dict[str, Any]) -> Drift:
    codes = report["codes"]
    return Drift(missing=codes["missing"], extra=codes["extra"], differing=codes["differing"])


async def test_no_personal_data_reached_any_log(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    personal_data.add("改ざんされた住所")
    assert personal_data.leaks(federation.root / "log") == []
