"""個人番号 on a real federation, both backends: a birth recorded under a code drawn from
the town's pool gets the number the agency generates (valid by the ordinance's check
digit, in the agency's registry, on the resident's record); a lookup gives it only to an
affair whose grant names it; a leaked number is replaced and the old one retired, never
issued again; a code change keeps the person's number; and no number reaches a log."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from jukinet.contracts.mynumber import is_individual_number
from jukinet.contracts.principals import Principal, PrincipalKind
from jukinet.devtools.localfed import LocalFederation
from jukinet.devtools.synthetic import SyntheticResidents
from tests.federation.support import PersonalData, eventually, query
from tests.federation.test_moves import known_upstream, move_in, move_out
from tests.federation.test_propagation import change, register
from tests.principals import AGENCY, CHIYODA, HIRATSUKA

pytestmark = [pytest.mark.federation, pytest.mark.asyncio(loop_scope="session")]

NTA = Principal(PrincipalKind.MINISTRY, "nta-tax")  # its grant names individual_number
MOFA = Principal(PrincipalKind.MINISTRY, "mofa-passport")  # its grant does not


async def numbered(town: httpx.AsyncClient, rid: str, unlike: str | None = None) -> str:
    """The resident's number once the agency's answer is recorded (other than ``unlike``)."""
    found: dict[str, Any] = {}

    async def arrived() -> bool:
        found.update((await town.get(f"/residents/{rid}")).json())
        number = found.get("individual_number")
        return number is not None and number != unlike

    await eventually(arrived)
    return str(found["individual_number"])


async def registry(fed: LocalFederation, code: str) -> list[tuple[str, str]]:
    rows = await query(fed, AGENCY, "SELECT number, status FROM individual_numbers "
                       "WHERE resident_code = :c ORDER BY assigned_at, status", c=code)  # fmt: skip
    return [(str(n), str(s)) for n, s in rows]


async def looked_up(fed: LocalFederation, who: Principal, affair: str, code: str) -> Any:
    async with fed.lookup_client(AGENCY, who) as c:
        r = await c.post("/lookups/by-code", json={"affair": affair, "resident_code": code})
    assert r.status_code == 200, r.text
    return r.json()["record"]


async def test_a_birth_gets_the_number_the_agency_generates_and_lookups_give_it_by_law(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    people = SyntheticResidents(seed=8101)
    async with federation.client(HIRATSUKA) as town:
        resident = await register(town, people.registration(HIRATSUKA.code), personal_data)
        number = await numbered(town, resident["id"])
    personal_data.add(number)  # the suite's log scan looks for it too
    assert is_individual_number(number)
    assert number != resident["resident_code"]
    assert await registry(federation, resident["resident_code"]) == [(number, "assigned")]

    async def at_agency() -> bool:
        rows = await query(federation, AGENCY, "SELECT count(*) FROM identity_records "
                           "WHERE resident_code = :c", c=resident["resident_code"])  # fmt: skip
        return int(rows[0][0]) == 1

    await eventually(at_agency)
    code = resident["resident_code"]
    taxed = await looked_up(federation, NTA, "national-tax-assessment", code)
    assert taxed["individual_number"] == number
    passport = await looked_up(federation, MOFA, "passport-issuance", code)
    assert "individual_number" not in passport


async def test_a_leaked_number_is_replaced_and_never_issued_again(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    people = SyntheticResidents(seed=8102)
    async with federation.client(HIRATSUKA) as town:
        resident = await register(town, people.registration(HIRATSUKA.code), personal_data)
        old = await numbered(town, resident["id"])
        r = await town.post(f"/residents/{resident['id']}/individual-number",
                            json={"reason": "leaked"})  # fmt: skip
        assert r.status_code == 202, r.text
        new = await numbered(town, resident["id"], unlike=old)
        bad = await town.post(f"/residents/{resident['id']}/individual-number",
                              json={"reason": "lost"})  # fmt: skip
        assert bad.status_code == 422
    personal_data.add(old)
    personal_data.add(new)
    assert is_individual_number(new)
    assert await registry(federation, resident["resident_code"]) == [
        (old, "retired"), (new, "assigned"),
    ]  # fmt: skip
    taken = await query(federation, AGENCY, "SELECT count(*) FROM individual_numbers "
                        "WHERE number = :n", n=old)  # fmt: skip
    assert int(taken[0][0]) == 1  # the retired number stays, so it is never generated again


async def test_a_code_change_keeps_the_persons_number(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    people = SyntheticResidents(seed=8103)
    async with federation.client(HIRATSUKA) as town:
        resident = await register(town, people.registration(HIRATSUKA.code), personal_data)
        number = await numbered(town, resident["id"])
        old_code = resident["resident_code"]
        resident = await change(town, resident["id"], {"reason": "code_change"}, personal_data)
        assert (await town.get(f"/residents/{resident['id']}")).json()["individual_number"] == (
            number
        )
    personal_data.add(number)

    async def followed() -> bool:
        return await registry(federation, resident["resident_code"]) == [(number, "assigned")]

    await eventually(followed)
    assert await registry(federation, old_code) == []


async def test_a_resident_who_moves_in_brings_their_number(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    """The 転出証明書 states the number: the new town records it (check digit verified; a
    number another resident holds is refused), and asks the agency for nothing."""
    people = SyntheticResidents(seed=8104)
    async with federation.client(HIRATSUKA) as old_town:
        person, other = [
            await register(old_town, people.registration(HIRATSUKA.code), personal_data)
            for _ in range(2)
        ]
        number = await numbered(old_town, person["id"])
    personal_data.add(number)
    bodies = []
    for mover in (person, other):
        await known_upstream(federation, mover)
        arriving = move_in(mover, CHIYODA, HIRATSUKA, people)
        await move_out(federation, HIRATSUKA, mover, arriving)
        bodies.append({k: v for k, v in arriving.items() if k != "new_municipality"})
    wrong = number[:11] + str((int(number[11]) + 1) % 10)
    async with federation.client(CHIYODA) as new_town:
        slipped = await new_town.post("/residents", json=bodies[0] | {"individual_number": wrong})
        assert slipped.status_code == 422, slipped.text
        assert wrong not in slipped.text
        here = await register(new_town, bodies[0] | {"individual_number": number}, personal_data)
        assert here["individual_number"] == number
        taken = await new_town.post("/residents", json=bodies[1] | {"individual_number": number})
    assert taken.status_code == 409, taken.text
    assert taken.json()["type"].endswith("individual-number-taken")
    assert number not in taken.text
