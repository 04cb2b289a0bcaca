"""Bulk import of a register from CSV: a file with bad rows is refused with their line
numbers and imports nothing; a good file imports fully and reaches the agency."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jukinet.cli import app
from jukinet.cli.federation import _save_state
from jukinet.contracts.identity import CHANGE_MESSAGE_TYPE
from jukinet.contracts.ids import generate_resident_code
from jukinet.devtools.localfed import LocalFederation
from jukinet.devtools.synthetic import SyntheticResidents
from jukinet.operators import card_principal
from tests.federation.support import (
    PersonalData,
    cli,
    database_url_of,
    eventually,
    query,
)
from tests.principals import AGENCY, KANAGAWA, YOKOHAMA

pytestmark = [pytest.mark.federation, pytest.mark.asyncio(loop_scope="session")]

COLUMNS = ["name", "name_kana", "birth_date", "sex", "address", "reason", "change_date"]
RESIDENCY = ("former_surname", "former_surname_kana", "nationality", "alias", "alias_kana")


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def good_rows(count: int, pd: PersonalData, seed: int) -> list[dict[str, str]]:
    people = SyntheticResidents(seed=seed)
    rows = []
    for i in range(count):
        body = people.registration(YOKOHAMA.code, reason="move_in")
        pd.add_body(body)
        rows.append(
            {
                **{k: str(v) for k, v in body.items() if k in COLUMNS},
                "sex": "1" if body["sex"] == "male" else "2",
            }
            | ({"reason": "birth", "change_date": ""} if i % 2 else {})
        )
    return rows


async def municipal_count(fed: LocalFederation) -> int:
    return int((await query(fed, YOKOHAMA, "SELECT count(*) FROM residents"))[0][0])


async def municipal_codes(fed: LocalFederation) -> set[str]:
    return {c for (c,) in await query(fed, YOKOHAMA, "SELECT resident_code FROM residents")}


async def last_item_id(fed: LocalFederation) -> int:
    return int((await query(fed, YOKOHAMA, "SELECT coalesce(max(id), 0) FROM outbox_items"))[0][0])


async def invoke(*args: str):
    return await asyncio.to_thread(CliRunner().invoke, app, list(args))


async def test_a_csv_with_bad_rows_is_refused_by_line_and_imports_nothing(
    federation: LocalFederation, personal_data: PersonalData, tmp_path: Path
) -> None:
    _save_state(federation)
    rows = good_rows(6, personal_data, seed=11)
    rows[1]["birth_date"] = "1999-02-30"  # line 3
    rows[3]["sex"] = "3"  # line 5
    rows[4]["name_kana"] = "ひらがな"  # line 6
    rows[5]["name"] = ""  # line 7
    before = await municipal_count(federation)
    result = await invoke(
        "import",
        str(write_csv(tmp_path / "bad.csv", rows)),
        "--municipality",
        YOKOHAMA.code,
        "--home",
        str(federation.root),
    )
    assert result.exit_code == 1, result.output
    assert "4 rows" in result.output
    lines = {
        int(line.split()[1])
        for line in result.output.splitlines()
        if line.startswith("│") and line.split()[1].isdigit()
    }
    assert lines == {3, 5, 6, 7}
    assert rows[0]["name"] not in result.output
    assert await municipal_count(federation) == before

    async with federation.client(YOKOHAMA) as c:
        r = await c.post(
            "/residents/import", content=b"name,birth_date\n", headers={"Content-Type": "text/csv"}
        )
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"


async def test_a_good_csv_imports_fully_and_reaches_the_agency(
    federation: LocalFederation, personal_data: PersonalData, tmp_path: Path
) -> None:
    _save_state(federation)
    rows = good_rows(400, personal_data, seed=12)
    before = await municipal_count(federation)
    earlier = await municipal_codes(federation)  # other modules' residents of Yokohama
    mark = await last_item_id(federation)
    result = await invoke(
        "import",
        str(write_csv(tmp_path / "good.csv", rows)),
        "--municipality",
        YOKOHAMA.code,
        "--home",
        str(federation.root),
    )
    assert result.exit_code == 0, result.output
    assert "imported 400 residents" in result.output
    assert await municipal_count(federation) == before + 400
    imported = await municipal_codes(federation) - earlier
    assert len(imported) == 400
    personal_data.add(*imported)
    kept = tmp_path / "good.csv.codes.csv"  # each row's code, by line, kept by the town
    assert kept.stat().st_mode & 0o777 == 0o600
    lines = kept.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "line,resident_code"
    assert [line.split(",")[0] for line in lines[1:]] == [str(n) for n in range(2, 402)]
    assert {line.split(",")[1] for line in lines[1:]} == imported
    listed = ", ".join(f"'{c}'" for c in sorted(imported))

    async def everywhere() -> bool:
        counts = []
        for node in (KANAGAWA, AGENCY):
            rows_ = await query(
                federation,
                node,
                "SELECT count(*) FROM identity_records WHERE municipality = :m "
                f"AND resident_code IN ({listed})",
                m=YOKOHAMA.code,
            )
            counts.append(int(rows_[0][0]))
        return counts == [400, 400]

    await eventually(everywhere, seconds=120)
    messages = await query(
        federation, YOKOHAMA,
        "SELECT count(DISTINCT message_id), count(*) FROM outbox_items "
        "WHERE id > :mark AND recipient = :r AND message_type = :t",
        mark=mark, r=KANAGAWA.uri, t=CHANGE_MESSAGE_TYPE,
    )  # fmt: skip
    assert int(messages[0][1]) >= 400
    assert int(messages[0][0]) < 400  # batched: many changes per signed message


async def test_rows_keep_the_codes_their_old_register_issued(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    rows = good_rows(3, personal_data, seed=13)
    carried = [generate_resident_code() for _ in rows]
    personal_data.add(*carried)
    csv_rows = [row | {"resident_code": code} | dict.fromkeys(RESIDENCY, "")
                for row, code in zip(rows, carried, strict=True)]  # fmt: skip
    csv_rows[0] |= {"name": "SILVA JOAO", "name_kana": "", "nationality": "BR",
                    "alias": "白羽 譲", "alias_kana": "シラハ ユズル"}  # fmt: skip
    csv_rows[1] |= {"former_surname": "浜田", "former_surname_kana": "ハマダ"}
    personal_data.add("白羽 譲", "シラハ ユズル", "浜田", "ハマダ")
    body = _csv_text(csv_rows)
    async with federation.client(YOKOHAMA) as c:
        headers = {"Content-Type": "text/csv"}
        repeated = _csv_text([*csv_rows, csv_rows[0] | {"name": "重複 太郎"}])
        r = await c.post("/residents/import", content=repeated.encode(), headers=headers)
        assert r.status_code == 422, r.text
        r = await c.post("/residents/import", content=body.encode(), headers=headers)
        assert r.status_code in (200, 201), r.text
        again = await c.post("/residents/import", content=body.encode(), headers=headers)
        assert again.status_code == 409
        assert again.json()["type"].endswith("/codes-taken")
    held = await query(
        federation, YOKOHAMA, "SELECT count(*) FROM residents WHERE resident_code IN "
        f"({', '.join(repr(c) for c in carried)})",
    )  # fmt: skip
    assert held[0][0] == 3
    await _registered_upstream(federation, carried)
    at_agency = await query(
        federation, AGENCY, "SELECT nationality, alias, former_surname FROM identity_records "
        f"WHERE resident_code IN ({', '.join(repr(c) for c in carried[:2])}) ORDER BY nationality",
    )  # fmt: skip
    assert sorted((tuple(r) for r in at_agency), key=str) == sorted(
        [("BR", "白羽 譲", None), (None, None, "浜田")], key=str
    )
    aliases = await query(federation, YOKOHAMA, "SELECT a.alias, a.deleted_on FROM "
                          "resident_aliases a JOIN residents r ON r.id = a.resident_id "
                          "WHERE r.resident_code = :c", c=carried[0])  # fmt: skip
    assert [tuple(a) for a in aliases] == [("白羽 譲", None)]  # its history starts here
    await _numbered(federation, carried, personal_data)


async def _numbered(fed: LocalFederation, codes: list[str], pd: PersonalData) -> None:
    """A migrated register brings no 個人番号: the town asks the agency for the ones its
    residents lack, and records the numbers the agency's registry holds for their codes."""
    listed = ", ".join(repr(c) for c in codes)

    async def recorded() -> bool:
        rows = await query(fed, YOKOHAMA, "SELECT resident_code, individual_number FROM "
                           f"residents WHERE resident_code IN ({listed})")  # fmt: skip
        return len(rows) == len(codes) and all(number for _, number in rows)

    await eventually(recorded, seconds=120)  # a refusal (code not yet claimed) asks again
    town = dict(await query(fed, YOKOHAMA, "SELECT resident_code, individual_number FROM "
                            f"residents WHERE resident_code IN ({listed})"))  # fmt: skip
    agency = dict(await query(fed, AGENCY, "SELECT resident_code, number FROM "
                              f"individual_numbers WHERE resident_code IN ({listed})"))  # fmt: skip
    pd.add(*town.values())
    assert town == agency


async def _registered_upstream(fed: LocalFederation, carried: list[str]) -> None:
    """The carried codes are registered as Yokohama's — with the agency nationally, and
    at Kanagawa — and their records reach both tiers (a code never designated would be
    refused as code_not_designated)."""
    codes = ", ".join(repr(c) for c in carried)

    async def recorded() -> bool:
        tiers = [
            await query(
                fed,
                n,
                f"SELECT municipality FROM identity_records WHERE resident_code IN ({codes})",
            )
            for n in (KANAGAWA, AGENCY)
        ]
        return all(sorted(r[0] for r in rows) == [YOKOHAMA.code] * 3 for rows in tiers)

    await eventually(recorded, seconds=60)
    registry = await query(
        fed, AGENCY, f"SELECT municipality, status FROM code_registry WHERE code IN ({codes})"
    )
    assert sorted(tuple(r) for r in registry) == [(YOKOHAMA.code, "designated")] * 3
    learned = await query(
        fed, KANAGAWA, f"SELECT municipality, source FROM code_designations WHERE code IN ({codes})"
    )
    assert sorted(tuple(r) for r in learned) == [(YOKOHAMA.code, "migrated")] * 3


def _csv_text(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


async def test_a_shift_jis_register_imports_as_its_system_exported_it(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    """Register systems export CP932: read with the charset named, or found by itself."""
    before = await municipal_count(federation)
    async with federation.client(YOKOHAMA) as c:
        for content_type, seed in (("text/csv; charset=shift_jis", 31), ("text/csv", 32)):
            rows = good_rows(3, personal_data, seed=seed)
            rows[0]["name"] = "髙橋 﨑子"  # characters outside JIS X 0208, as CP932 has them
            personal_data.add(rows[0]["name"])
            body = _csv_text(rows).encode("cp932")
            r = await c.post(
                "/residents/import", content=body, headers={"Content-Type": content_type}
            )
            assert r.status_code == 201, r.text
        wrong = await c.post(
            "/residents/import", content="名前\n".encode("cp932"),
            headers={"Content-Type": "text/csv; charset=utf-8"},
        )  # fmt: skip
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["problem"].startswith("the file is not utf-8 text")
    assert await municipal_count(federation) == before + 6
    names = await query(federation, YOKOHAMA, "SELECT count(*) FROM residents WHERE name = :n",
                        n="髙橋 﨑子")  # fmt: skip
    assert names[0][0] == 2


async def test_an_import_is_logged_as_the_operator_who_ran_it(
    federation: LocalFederation, personal_data: PersonalData, tmp_path: Path
) -> None:
    """With --operator and --card the import runs on the administrator's session: the
    operation log names them, not the node's system; a clerk may not import at all."""
    _save_state(federation)
    root = str(federation.layout.root)
    db = database_url_of(federation, YOKOHAMA)
    for slug, role in (("importer", "administrator"), ("counter", "clerk")):
        made = await cli("operators", "create", slug, "--role", role, "--node", YOKOHAMA.uri,
                         "--db", db, "--pki-root", root)  # fmt: skip
        assert made.exit_code == 0, made.output
    csv_file = write_csv(tmp_path / "few.csv", good_rows(3, personal_data, seed=13))

    async def import_as(slug: str):
        card = federation.layout.node_dir(card_principal(YOKOHAMA, slug))
        return await cli("import", str(csv_file), "--municipality", YOKOHAMA.code,
                         "--home", str(federation.root), "--no-wait",
                         "--operator", slug, "--card", str(card))  # fmt: skip

    imported = await import_as("importer")
    assert imported.exit_code == 0, imported.output
    refused = await import_as("counter")
    assert refused.exit_code == 1
    rows = await query(
        federation, YOKOHAMA,
        "SELECT actor, role, outcome FROM operation_log WHERE action = 'residents.bulk' "
        "ORDER BY seq DESC LIMIT 2",
    )  # fmt: skip
    operator = card_principal(YOKOHAMA, "importer").uri
    clerk = card_principal(YOKOHAMA, "counter").uri
    assert [tuple(r) for r in rows] == [
        (clerk, "clerk", "refused:403"),
        (operator, "administrator", "ok"),
    ]
    for (code,) in await query(federation, YOKOHAMA, "SELECT resident_code FROM residents"):
        personal_data.add(code)


async def test_no_personal_data_reached_any_log(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    assert personal_data.leaks(federation.root / "log") == []
