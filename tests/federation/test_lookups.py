"""Ministry lookups at the agency: every refusal reason (and its log entry), field
minimisation, four-fact search that refuses to guess, certificate checks, monitoring."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from typer.testing import CliRunner

from jukinet.cli import app
from jukinet.client import LookupClient, LookupInvalid, LookupRefused
from jukinet.contracts.principals import Principal, PrincipalKind
from jukinet.devtools.localfed import LocalFederation
from jukinet.pki import CertificateAuthority
from tests.federation.support import (
    MONITOR_MAX_REFUSALS,
    PersonalData,
    eventually,
    execute,
    query,
)
from tests.pdftext import text_of
from tests.principals import AGENCY, CHIYODA, HIRATSUKA, KANAGAWA, MOFA

pytestmark = [pytest.mark.federation, pytest.mark.asyncio(loop_scope="session")]

TODAY = dt.datetime.now(dt.UTC).date().isoformat()


def client(name: str) -> Principal:
    return Principal(PrincipalKind.MINISTRY, name)


def person(name: str, kana: str, birth: str, sex: str, address: str) -> dict[str, Any]:
    return {
        "name": name, "name_kana": kana, "birth_date": birth, "sex": sex,
        "address": address, "reason": "birth", "change_date": birth, "notified_on": birth,
    }  # fmt: skip


async def register(
    fed: LocalFederation, town: Principal, body: dict[str, Any], pd: PersonalData
) -> str:
    pd.add_body(body)
    async with fed.client(town) as c:
        r = await c.post("/residents", json=body)
    assert r.status_code == 201, r.text
    pd.add(r.json()["resident_code"])
    return str(r.json()["resident_code"])


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def people(federation: LocalFederation, personal_data: PersonalData) -> dict[str, str]:
    """A unique resident, two residents sharing name/birth/sex (in two towns), a dead one."""
    codes = {
        "unique": await register(
            federation,
            HIRATSUKA,
            person(
                "平塚 一郎", "ヒラツカ イチロウ", "1970-01-02", "male", "神奈川県平塚市浅間町9-9"
            ),
            personal_data,
        ),
        "twin_a": await register(
            federation,
            HIRATSUKA,
            person(
                "同名 花子", "ドウメイ ハナコ", "1990-05-05", "female", "神奈川県平塚市見附町1-1"
            ),
            personal_data,
        ),
        "twin_b": await register(
            federation,
            CHIYODA,
            person(
                "同名 花子", "ドウメイ ハナコ", "1990-05-05", "female", "東京都千代田区丸の内1-1"
            ),
            personal_data,
        ),
        "gone": await register(
            federation,
            CHIYODA,
            person("故人 次郎", "コジン ジロウ", "1940-03-03", "male", "東京都千代田区永田町1-1"),
            personal_data,
        ),
    }

    async def at_agency() -> bool:  # read directly: an operator read would be a provision
        rows = await query(
            federation, AGENCY,
            "SELECT count(*) FROM identity_records WHERE resident_code IN (:a, :b, :c, :d)",
            a=codes["unique"], b=codes["twin_a"], c=codes["twin_b"], d=codes["gone"],
        )  # fmt: skip
        return int(rows[0][0]) == 4

    await eventually(at_agency)
    return codes


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def extra_clients(federation: LocalFederation) -> None:
    """A valid certificate with no grant at all, and a private-sector client."""
    ca = CertificateAuthority.load(federation.layout.ca_dir)
    for name in ("unlisted-body", "example-bank"):
        federation.layout.issue(ca, client(name), validity=dt.timedelta(days=1))
    await execute(
        federation, AGENCY,
        "INSERT INTO lookup_clients (client, organisation, sector, table_version) "
        "VALUES ('example-bank', '株式会社例示銀行', 'private', 'test') ON CONFLICT DO NOTHING",
    )  # fmt: skip


async def refused_reasons(fed: LocalFederation) -> list[str]:
    rows = await query(
        fed, AGENCY, "SELECT reason FROM provision_log WHERE outcome = 'refused' ORDER BY seq"
    )
    return [r for (r,) in rows]


async def ask(
    fed: LocalFederation, who: Principal, path: str, body: dict[str, Any]
) -> httpx.Response:
    async with fed.lookup_client(AGENCY, who) as c:
        return await c.post(path, json=body)


async def test_a_permitted_lookup_provides_and_is_logged(
    federation: LocalFederation, people: dict[str, str]
) -> None:
    r = await ask(
        federation,
        client("mofa-passport"),
        "/lookups/by-code",
        {"affair": "passport-issuance", "resident_code": people["unique"]},
    )
    assert r.status_code == 200, r.text
    assert r.json()["record"]["name"] == "平塚 一郎"
    rows = await query(
        federation,
        AGENCY,
        "SELECT client, affair, outcome, residents FROM provision_log "
        "WHERE client = :c ORDER BY seq DESC LIMIT 1",
        c=MOFA.uri,
    )
    assert rows[0][0] == "spiffe://jukinet/ministry/mofa-passport"
    assert rows[0][1:3] == ("passport-issuance", "provided")
    assert people["unique"] in rows[0][3]


@pytest.mark.parametrize(
    ("who", "path", "affair", "reason", "status"),
    [
        (
            "mofa-passport",
            "/lookups/by-code",
            "pension-existence-check",
            "affair_not_permitted",
            403,
        ),
        ("mofa-passport", "/lookups/batch", "passport-issuance", "query_kind_not_permitted", 403),
        ("moj-registry", "/lookups/by-code", "real-estate-registration", "grant_expired", 403),
        ("unlisted-body", "/lookups/by-code", "passport-issuance", "no_grant", 403),
        ("example-bank", "/lookups/by-code", "account-opening", "not_government", 403),
    ],
)
async def test_refusals_say_why_and_are_logged(
    federation: LocalFederation,
    people: dict[str, str],
    extra_clients: None,
    who: str,
    path: str,
    affair: str,
    reason: str,
    status: int,
) -> None:
    await execute(
        federation,
        AGENCY,
        "UPDATE lookup_grants SET valid_until = '2025-03-31' WHERE client = 'moj-registry'",
    )
    body: dict[str, Any] = {"affair": affair}
    body |= (
        {"resident_codes": [people["unique"]]}
        if path.endswith("batch")
        else {"resident_code": people["unique"]}
    )
    r = await ask(federation, client(who), path, body)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["reason"] == reason
    assert "平塚" not in r.text
    assert (await refused_reasons(federation))[-1] == reason


async def test_quota_exhaustion_is_refused(
    federation: LocalFederation, people: dict[str, str]
) -> None:
    await execute(
        federation, AGENCY, "UPDATE lookup_grants SET daily_quota = 1 WHERE client = 'mhlw-license'"
    )
    body = {"affair": "medical-licences", "resident_code": people["unique"]}
    first = await ask(federation, client("mhlw-license"), "/lookups/by-code", body)
    assert first.status_code == 200
    second = await ask(federation, client("mhlw-license"), "/lookups/by-code", body)
    assert second.status_code == 429
    assert second.json()["reason"] == "quota_exhausted"
    assert (await refused_reasons(federation))[-1] == "quota_exhausted"


async def test_a_municipality_cannot_query(
    federation: LocalFederation, people: dict[str, str]
) -> None:
    r = await ask(
        federation,
        HIRATSUKA,
        "/lookups/by-code",
        {"affair": "passport-issuance", "resident_code": people["unique"]},
    )
    assert r.status_code == 403
    assert r.json()["reason"] == "not_a_lookup_client"


async def test_existence_checks_receive_only_existence_and_address(
    federation: LocalFederation, people: dict[str, str]
) -> None:
    jpa = client("jpa-pension")
    r = await ask(
        federation,
        jpa,
        "/lookups/by-code",
        {"affair": "pension-existence-check", "resident_code": people["unique"]},
    )
    assert r.status_code == 200
    assert set(r.json()["record"]) == {"status", "address"}
    codes = [people["unique"], people["gone"], "12345678903"]
    r = await ask(
        federation,
        jpa,
        "/lookups/batch",
        {"affair": "pension-existence-check", "resident_codes": codes},
    )
    assert r.status_code == 200
    results = {item["resident_code"]: item for item in r.json()["results"]}
    assert set(results[people["unique"]]["record"]) == {"status", "address"}
    assert results["12345678903"]["found"] is False
    assert "平塚 一郎" not in r.text
    assert "1970-01-02" not in r.text


async def test_facts_match_as_written_on_paper_spaces_width_and_variant_kanji(
    federation: LocalFederation, people: dict[str, str]
) -> None:
    """「平塚一郎」 without the space, full-width digits in the address, and 髙/高-type
    variants find the one person; a kanji the variant table does not pair does not."""
    mofa = client("mofa-passport")
    facts = {"affair": "passport-issuance", "birth_date": "1970-01-02", "sex": "male"}
    for name, address in (
        ("平塚一郎", None),
        ("平塚　一郎", "神奈川県平塚市浅間町９－９"),
        (" 平塚 一郎 ", "神奈川県平塚市 浅間町9-9"),
    ):
        body = facts | {"name": name} | ({"address": address} if address else {})
        r = await ask(federation, mofa, "/lookups/by-facts", body)
        assert r.json()["match"] == "unique", (name, address)
        assert r.json()["record"]["resident_code"] == people["unique"]
    other = await ask(federation, mofa, "/lookups/by-facts", facts | {"name": "平塚二郎"})
    assert other.json()["match"] == "none"


async def test_four_fact_search_does_not_guess(
    federation: LocalFederation, people: dict[str, str]
) -> None:
    mofa = client("mofa-passport")
    facts = {
        "affair": "passport-issuance",
        "name": "同名　花子",
        "birth_date": "1990-05-05",
        "sex": "female",
    }
    r = await ask(federation, mofa, "/lookups/by-facts", facts)
    assert r.json() == {"match": "ambiguous", "record": None}
    r = await ask(
        federation, mofa, "/lookups/by-facts", facts | {"address": "東京都千代田区丸の内1-1"}
    )
    assert r.json()["match"] == "unique"
    assert r.json()["record"]["resident_code"] == people["twin_b"]
    r = await ask(federation, mofa, "/lookups/by-facts", facts | {"name": "別人 花子"})
    assert r.json() == {"match": "none", "record": None}
    outcomes = await query(
        federation,
        AGENCY,
        "SELECT outcome, residents FROM provision_log WHERE query_kind = 'by_facts' ORDER BY seq",
    )
    assert [o for o, _ in outcomes][-3:] == ["ambiguous", "provided", "not_found"]
    assert outcomes[-3][1] == "[]"


async def _curl(*args: str) -> subprocess.CompletedProcess[str]:
    command = ["curl", "--silent", "--show-error", "--max-time", "20", *args]
    return await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=30, check=False
    )


async def test_plain_curl_and_default_python_verification_reach_a_lookup_server(
    federation: LocalFederation, people: dict[str, str]
) -> None:
    """What an integrator tries first: no hostname overrides, only the federation CA."""
    server = federation.lookup_servers[AGENCY]
    ministry = federation.layout.node_dir(client("mofa-passport"))
    body = {"affair": "passport-issuance", "resident_code": people["unique"]}
    tls = ["--cert", str(ministry / "tls.crt"), "--key", str(ministry / "tls.key"),
           "--cacert", str(federation.layout.ca_cert)]  # fmt: skip
    post = ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
    for host in ("127.0.0.1", "localhost"):
        url = f"https://{host}:{server.port}/lookups/by-code"
        done = await _curl(*tls, *post, url)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["found"] is True
    elsewhere = f"https://lookups.example:{server.port}/lookups/by-code"
    resolve = ["--resolve", f"lookups.example:{server.port}:127.0.0.1"]
    refused = await _curl(*tls, *post, *resolve, elsewhere)
    assert refused.returncode == 60, refused.stderr  # a name the certificate does not carry

    context = ssl.create_default_context(cafile=str(federation.layout.ca_cert))
    context.load_cert_chain(ministry / "tls.crt", ministry / "tls.key")
    assert context.check_hostname
    async with httpx.AsyncClient(verify=context, timeout=20) as c:
        r = await c.post(f"https://localhost:{server.port}/lookups/by-code", json=body)
    assert r.status_code == 200, r.text


README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_python() -> str:
    """The Python example of the README, as an integrator would copy it."""
    text = README.read_text(encoding="utf-8")
    start = text.index("```python\n", text.index("from Python, with the client")) + 10
    block = text[start : text.index("```", start)]
    return "\n".join(line.removeprefix("  ") for line in block.splitlines())


async def test_the_readme_python_example_works(
    federation: LocalFederation, people: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    server = federation.lookup_servers[AGENCY]
    code = _readme_python()
    code = code.replace("https://localhost:9100", f"https://localhost:{server.port}")
    code = code.replace('"var/pki"', repr(str(federation.layout.root)))
    code = code.replace("<a resident code>", people["unique"])
    await asyncio.to_thread(exec, compile(code, "README.md", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("True {")
    assert printed[1] == "refused: affair_not_permitted"


async def test_the_client_types_answers_and_refusals(
    federation: LocalFederation, people: dict[str, str]
) -> None:
    server = federation.lookup_servers[AGENCY]
    me = federation.layout.node_dir(client("jpa-pension"))
    options = {"cert": me / "tls.crt", "key": me / "tls.key", "ca": federation.layout.ca_cert}

    def calls() -> tuple[Any, ...]:
        with LookupClient(f"https://localhost:{server.port}", **options) as lookups:
            found = lookups.batch("pension-existence-check", [people["unique"], "12345678903"])
            with pytest.raises(LookupRefused) as refused:
                lookups.by_code("passport-issuance", people["unique"])
            with pytest.raises(LookupInvalid) as invalid:
                lookups.by_code("pension-existence-check", "12345678901")
            return found, refused.value, invalid.value

    found, refused, invalid = await asyncio.to_thread(calls)
    assert [item.found for item in found.results] == [True, False]
    assert set(found.found()[people["unique"]]) == {"status", "address"}  # the grant's fields
    assert (refused.status, refused.reason) == (403, "affair_not_permitted")
    assert invalid.errors[0]["loc"] == ["body", "resident_code"]


async def test_the_lookup_command_prints_answers_and_one_line_refusals(
    federation: LocalFederation, people: dict[str, str]
) -> None:
    server = federation.lookup_servers[AGENCY]
    me = str(federation.layout.node_dir(client("jpa-pension")))
    common = ["--as", me, "--ca", str(federation.layout.ca_cert),
              "--server", f"https://localhost:{server.port}"]  # fmt: skip
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(app, ["lookup", *args, *common])

    found = await asyncio.to_thread(run, "by-code", people["unique"], "--affair",
                                    "pension-existence-check")  # fmt: skip
    assert found.exit_code == 0, found.output
    assert json.loads(found.stdout)["found"] is True
    refused = await asyncio.to_thread(run, "by-code", people["unique"], "--affair",
                                      "passport-issuance")  # fmt: skip
    assert refused.exit_code == 2
    assert "affair_not_permitted" in refused.stderr
    assert "Traceback" not in refused.output
    common[-1] = "https://localhost:1"
    unreachable = await asyncio.to_thread(run, "by-code", people["unique"], "--affair",
                                          "pension-existence-check")  # fmt: skip
    assert unreachable.exit_code == 3
    assert unreachable.stderr.startswith("cannot reach https://localhost:1")


async def test_clients_without_a_federation_certificate_cannot_connect(
    federation: LocalFederation, other_pki: tuple[Any, Any]
) -> None:
    url = federation.lookup_servers[AGENCY].url + "/lookups/by-code"
    body = {"affair": "passport-issuance", "resident_code": "12345678903"}
    anonymous = ssl.create_default_context(cafile=str(federation.layout.ca_cert))
    anonymous.check_hostname = False
    other_layout, _ = other_pki
    foreign = ssl.create_default_context(cafile=str(federation.layout.ca_cert))
    foreign.check_hostname = False
    node = other_layout.node_dir(AGENCY)
    foreign.load_cert_chain(node / "tls.crt", node / "tls.key")
    for context in (anonymous, foreign):
        async with httpx.AsyncClient(verify=context, timeout=5) as c:
            with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
                (await c.post(url, json=body)).raise_for_status()


async def test_repeated_refusals_suspend_a_client_until_reinstated(
    federation: LocalFederation, people: dict[str, str]
) -> None:
    kkr = client("kkr-pension")
    wrong = {"affair": "passport-issuance", "resident_code": people["unique"]}
    right = {"affair": "public-servant-pensions", "resident_code": people["unique"]}
    assert (await ask(federation, kkr, "/lookups/by-code", right)).status_code == 200
    for _ in range(MONITOR_MAX_REFUSALS):
        assert (await ask(federation, kkr, "/lookups/by-code", wrong)).status_code == 403
    r = await ask(federation, kkr, "/lookups/by-code", right)
    assert r.json()["reason"] == "client_suspended"
    async with federation.client(AGENCY) as c:
        alerts = (await c.get("/lookup-admin/alerts")).json()
        assert any(
            a["rule"] == "repeated_refusals"
            and a["client"].endswith("kkr-pension")
            and a["suspended"]
            for a in alerts
        )
        assert (await c.post("/lookup-admin/clients/kkr-pension/reinstate")).status_code == 200
    assert (await ask(federation, kkr, "/lookups/by-code", right)).status_code == 200


async def test_prefecture_bodies_query_their_prefecture_under_its_own_table(
    federation: LocalFederation, people: dict[str, str]
) -> None:
    body = {"affair": "driving-licences", "resident_code": people["unique"]}
    async with federation.lookup_client(KANAGAWA, client("kanagawa-police")) as c:
        r = await c.post("/lookups/by-code", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["record"]["name"] == "平塚 一郎"
    for outsider in ("tokyo-police", "mofa-passport"):
        async with federation.lookup_client(KANAGAWA, client(outsider)) as c:
            r = await c.post("/lookups/by-code", json=body | {"affair": "driving-licences"})
        assert r.json()["reason"] == "no_grant"
    rows = await query(
        federation, KANAGAWA, "SELECT outcome, reason FROM provision_log ORDER BY seq"
    )
    assert [tuple(r) for r in rows][-3:] == [
        ("provided", None),
        ("refused", "no_grant"),
        ("refused", "no_grant"),
    ]


async def test_a_disclosure_returns_exactly_the_residents_provisions(
    federation: LocalFederation, people: dict[str, str]
) -> None:
    code = people["unique"]
    rid = (
        await query(
            federation, HIRATSUKA, "SELECT id FROM residents WHERE resident_code = :c", c=code
        )
    )[0][0]
    async with federation.client(HIRATSUKA) as c:
        r = await c.post("/disclosures", json={"resident_id": rid})
        assert r.status_code == 202, r.text
        disclosure_id = r.json()["id"]

        async def answered() -> bool:
            view = (await c.get(f"/disclosures/{disclosure_id}")).json()
            return bool(view["complete"])

        await eventually(answered, seconds=30)
        view = (await c.get(f"/disclosures/{disclosure_id}")).json()
        printed = await c.get(f"/disclosures/{disclosure_id}/document")
    assert printed.status_code == 200, printed.text
    assert printed.headers["content-type"] == "application/pdf"
    text = text_of(printed.content)
    assert text.splitlines()[0] == "本人確認情報の提供状況の開示"
    assert "平塚 一郎" in text
    assert "地方公共団体情報システム機構（全国）" in text
    assert "神奈川県（140007）" in text
    assert "提供項目：" in text

    for tier in (AGENCY, KANAGAWA):
        expected = await query(
            federation, tier,
            "SELECT l.client, l.affair, l.query_kind FROM provision_log l "
            "JOIN provision_subjects s ON s.seq = l.seq "
            "WHERE s.resident_code = :c AND l.outcome = 'provided' ORDER BY l.seq", c=code,
        )  # fmt: skip
        got = [(p["recipient"], p["affair"], p["query_kind"]) for p in view["answers"][tier.uri]]
        assert got == [tuple(row) for row in expected]
        assert got  # this resident's record was provided at each tier in the tests above
    agency_answer = view["answers"][AGENCY.uri]
    assert {p["affair"] for p in agency_answer} >= {"passport-issuance", "pension-existence-check"}
    assert all(p["organisation"] for p in agency_answer)
    twins = await query(
        federation,
        AGENCY,
        "SELECT count(*) FROM provision_subjects WHERE resident_code = :c",
        c=people["twin_b"],
    )
    assert twins[0][0] >= 1  # provided to someone, and not part of this disclosure
    logged = await query(
        federation,
        AGENCY,
        "SELECT client, outcome FROM provision_log WHERE query_kind = 'disclosure'",
    )
    assert (HIRATSUKA.uri, "disclosed") in [tuple(r) for r in logged]


async def test_operator_reads_are_logged_like_provisions(
    federation: LocalFederation, people: dict[str, str]
) -> None:
    async with federation.client(AGENCY) as c:
        assert (
            await c.post("/records/lookup", json={"resident_code": people["gone"]})
        ).status_code == 200
        missing = await c.post("/records/lookup", json={"resident_code": "12345678903"})
    assert missing.status_code == 404
    rows = await query(
        federation,
        AGENCY,
        "SELECT client, outcome, residents FROM provision_log WHERE affair = 'operator-read' ORDER BY seq",
    )
    assert [(r[1], r[2]) for r in rows][-2:] == [
        ("provided", f'["{people["gone"]}"]'),
        ("not_found", "[]"),
    ]
    assert rows[-1][0] == f"{AGENCY.uri}#operator-api"


async def test_a_rotated_ministry_certificate_is_refused_at_once(
    federation: LocalFederation, people: dict[str, str], tmp_path: Path
) -> None:
    """`jukinet pki rotate` of a ministry: from that moment its old TLS certificate gets
    nothing from the running lookup server — on a connection opened before the rotation
    or a new one — while its new certificate works; no server restarts."""
    nta = client("nta-tax")
    body = {"affair": "national-tax-assessment", "resident_code": people["unique"]}
    old = tmp_path / "old"
    shutil.copytree(federation.layout.node_dir(nta), old)
    async with federation.lookup_client(AGENCY, nta) as before:
        assert (await before.post("/lookups/by-code", json=body)).status_code == 200
        root = str(federation.layout.root)
        rotated = await asyncio.to_thread(
            CliRunner().invoke, app, ["pki", "rotate", nta.uri, "--root", root]
        )
        assert rotated.exit_code == 0, rotated.output
        refused = await before.post("/lookups/by-code", json=body)
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    assert "record" not in refused.json()
    context = ssl.create_default_context(cafile=str(federation.layout.ca_cert))
    context.check_hostname = False
    context.load_cert_chain(old / "tls.crt", old / "tls.key")
    url = federation.lookup_servers[AGENCY].url
    async with httpx.AsyncClient(base_url=url, verify=context, timeout=30) as stale:
        assert (await stale.post("/lookups/by-code", json=body)).status_code == 401
    async with federation.lookup_client(AGENCY, nta) as renewed:
        assert (await renewed.post("/lookups/by-code", json=body)).status_code == 200


async def test_no_personal_data_reached_any_log(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    assert personal_data.leaks(federation.root / "log") == []
