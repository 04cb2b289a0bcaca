"""Property-based fuzzing of the agency's two HTTP APIs: no 5xx, problem+json errors, and
no request value echoed in an error body.

Cases come from the apps' own OpenAPI documents through schemathesis (positive and
negative generation modes). Hypothesis only *generates* them (in a sync ``@given`` inner
function); they are then replayed in-process over ``httpx.ASGITransport`` inside the
session's event loop, against apps whose lifespans are running:

- the operator app (``agency.app:create_app``): bearer token, on a migrated database
  (SQLite, and PostgreSQL where JUKINET_TEST_PG answers) holding the agency's
  permission table, a few identity records and some suspended lookup clients;
- the lookup app for ministries (``jukinet.lookups.create_lookup_app``), where the caller
  is the principal of the verified TLS client certificate. Here a small ASGI wrapper puts
  a demo client certificate into ``scope["extensions"]["tls"]``, standing in for the TLS
  layer (``jukinet.node.tlsasgi``); that layer is tested against a real HTTPS server in
  tests/federation/test_lookups.py.

Besides the raw generated cases, some positive cases are steered to known data (the real
operator token, a permitted affair, existing resident codes and facts) so that the fuzz
also reaches the handlers' success paths, not only validation and refusals.

A failure names each failing operation and kind of failure once, with the first request
that showed it (replayable with curl or httpx) and the project frames of the traceback.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import traceback
import unicodedata
from collections.abc import AsyncIterator, Iterator, MutableMapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import requests
import schemathesis
import schemathesis.generation.jsonschema.builder  # see below
import schemathesis.specs.openapi.schemas  # see below
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.strategies import SearchStrategy
from schemathesis import Case, GenerationMode
from schemathesis.core.result import Ok

# schemathesis imports its OpenAPI machinery on first use; pytest rewrites it (it is a
# plugin), and CPython 3.11's ast.parse failed there once, deep in a running test
# ("AST constructor recursion depth mismatch"), in the OpenAPI schemas module and again in
# the JSON Schema strategy builder. Imported at collection, they are parsed with a
# shallow stack.
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from agency.app import create_app
from agency.models import lookups, records
from agency.settings import AgencySettings
from jukinet.contracts.identity import ChangeReason, IdentityChange, IdentityRecord, Sex
from jukinet.contracts.ids import generate_resident_code
from jukinet.contracts.principals import AGENCY, Principal
from jukinet.lookups import create_lookup_app, load_permissions, load_table
from jukinet.node.problems import PROBLEM_MEDIA_TYPE
from jukinet.node.state import state_of
from jukinet.node.tlsasgi import TLS_EXTENSION
from jukinet.pki import PkiLayout, utcnow
from jukinet.records.store import apply_changes
from tests.conftest import admin_sql, require_postgres
from tests.principals import CHIYODA, HIRATSUKA, JPA, MOFA

REPO = Path(__file__).resolve().parents[2]
PERMISSIONS = REPO / "services" / "agency" / "permissions" / "table.toml"
TOKEN = "fuzz-operator-token-" + "x" * 32
BASE_URL = "http://test"
# per operation and generation mode (so up to twice this per operation); raise it for a
# deeper run, e.g. JUKINET_FUZZ_EXAMPLES=500
EXAMPLES = int(os.environ.get("JUKINET_FUZZ_EXAMPLES", "40"))
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
# 503 is /readyz's documented answer while the broker is down, and this test runs with an
# unreachable broker on purpose; every other operation must never answer 5xx.
SERVER_ERRORS_ALLOWED = {("GET", "/readyz"): {503}}
MIN_ECHO_LENGTH = 6  # shorter strings occur in any text by chance

AnyCase = Case[Any]

SUSPENDED = ("cao-disaster", "nta-tax", "kkr-pension")  # not used by the lookup fuzz


@dataclass(frozen=True)
class Person:
    code: str
    name: str
    birth_date: dt.date
    sex: Sex
    address: str


@dataclass
class Fixture:
    operator: FastAPI
    lookup: FastAPI
    layout: PkiLayout
    people: list[Person]

    @property
    def codes(self) -> list[str]:
        return [p.code for p in self.people]


def _change(p: Person, town: str, reason: ChangeReason, version: int) -> IdentityChange:
    record = IdentityRecord(
        resident_code=p.code,
        municipality=town,
        name=p.name,
        birth_date=p.birth_date,
        sex=p.sex,
        address=p.address,
        change_reason=reason,
        change_date=p.birth_date if reason is ChangeReason.BIRTH else dt.date(2020, 1, 1),
    )
    return IdentityChange(record=record, version=version, correlation_id=secrets.token_hex(8))


@asynccontextmanager
async def _database(backend: str, tmp: Path) -> AsyncIterator[str]:
    """A fresh database on ``backend`` (a PostgreSQL one is dropped afterwards)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp / 'agency.db'}"
        return
    admin = await require_postgres()
    name = f"jukinet_t_{secrets.token_hex(6)}"
    await admin_sql(f'CREATE DATABASE "{name}"')
    try:
        yield admin.rsplit("/", 1)[0] + "/" + name
    finally:
        await admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest_asyncio.fixture(
    scope="module",
    loop_scope="session",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
async def agency(
    request: pytest.FixtureRequest, layout: PkiLayout, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Fixture]:
    """Both apps with running lifespans, on one fresh database of each backend."""
    async with _database(request.param, tmp_path_factory.mktemp("fuzz-agency")) as url:
        settings_ = AgencySettings(
            principal=AGENCY.uri,
            pki_root=layout.root,
            database_url=url,
            api_token=TOKEN,
            nats_servers=["tls://127.0.0.1:1"],  # unreachable: retried in the background
            # Monitoring stays out of the way, so that refusals of fuzzed affairs do not
            # suspend the clients and hide the permitted paths behind "client_suspended".
            monitor_max_per_minute=1_000_000,
            monitor_max_refusals_per_10_minutes=1_000_000,
        )
        operator = create_app(settings_)
        lookup = create_lookup_app(settings_, records, lookups, title="jukinet lookups (fuzz)")
        async with operator.router.lifespan_context(operator):  # applies the migrations
            async with state_of(operator).sessions() as session, session.begin():
                people = await _seed(session)
            async with lookup.router.lifespan_context(lookup):
                yield Fixture(operator, lookup, layout, people)


async def _seed(session: AsyncSession) -> list[Person]:
    """The permission table, a few residents (a unique one, two sharing name, birth date
    and sex, a dead one), and some suspended clients for reinstatement to find."""
    await load_permissions(session, lookups, load_table(PERMISSIONS))
    unique = Person(generate_resident_code(), "平塚 一郎", dt.date(1970, 1, 2), Sex.MALE, "神奈川県平塚市浅間町9-9")  # fmt: skip
    twin_a = Person(generate_resident_code(), "同名 花子", dt.date(1990, 5, 5), Sex.FEMALE, "神奈川県平塚市見附町1-1")  # fmt: skip
    twin_b = Person(generate_resident_code(), "同名 花子", dt.date(1990, 5, 5), Sex.FEMALE, "東京都千代田区丸の内1-1")  # fmt: skip
    gone = Person(generate_resident_code(), "故人 次郎", dt.date(1940, 3, 3), Sex.MALE, "東京都千代田区永田町1-1")  # fmt: skip
    changes = [
        _change(unique, HIRATSUKA.code, ChangeReason.BIRTH, 1),
        _change(twin_a, HIRATSUKA.code, ChangeReason.BIRTH, 1),
        _change(twin_b, CHIYODA.code, ChangeReason.BIRTH, 1),
        _change(gone, CHIYODA.code, ChangeReason.BIRTH, 1),
        _change(gone, CHIYODA.code, ChangeReason.DEATH, 2),
    ]
    origin = secrets.token_hex(16)
    await apply_changes(session, records, changes, origin_message_id=origin, now=utcnow())
    c = lookups.clients
    await session.execute(
        update(c)
        .where(c.c.client.in_(SUSPENDED))
        .values(suspended_at=utcnow(), suspended_reason="fuzz")
    )
    return [unique, twin_a, twin_b, gone]


# --- generation ----------------------------------------------------------------------


def _draw(strategy: SearchStrategy[AnyCase]) -> list[AnyCase]:
    drawn: list[AnyCase] = []

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES,
        database=None,  # nothing written to .hypothesis/
        deadline=None,
        phases=[Phase.generate],  # the checks run later, on the replay
        suppress_health_check=list(HealthCheck),
    )
    def draw(case: AnyCase) -> None:
        drawn.append(case)

    draw()
    return drawn


_generated: dict[str, list[tuple[str, GenerationMode, AnyCase]]] = {}


def generate(app: FastAPI) -> list[tuple[str, GenerationMode, AnyCase]]:
    """Up to EXAMPLES cases per operation and mode, from the app's OpenAPI document. Drawn
    once per document and run against each backend (drawing costs as much as sending)."""
    document = app.openapi()
    key = json.dumps(document, sort_keys=True)
    if key not in _generated:
        _generated[key] = _generate(document)
    return _generated[key]


def _generate(document: dict[str, Any]) -> list[tuple[str, GenerationMode, AnyCase]]:
    schema = schemathesis.openapi.from_dict(document)
    cases: list[tuple[str, GenerationMode, AnyCase]] = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        raw = operation.definition.raw
        breakable = any(raw.get(k) for k in ("parameters", "requestBody", "security"))
        for mode in MODES if breakable else (GenerationMode.POSITIVE,):
            # (negative mode has nothing to break in an operation without any input)
            drawn = _draw(operation.as_strategy(generation_mode=mode))
            cases += [(label, mode, case) for case in drawn]
    return cases


@dataclass
class Wire:
    """One request as schemathesis would put it on the wire (prepared by requests)."""

    method: str
    url: str
    headers: dict[str, str]
    content: bytes | None
    body: Any = None  # the generated JSON body, for the echo check

    @classmethod
    def of(cls, case: AnyCase, body: Any = None) -> Wire:
        kwargs = case.as_transport_kwargs(base_url=BASE_URL)
        allowed = ("method", "url", "headers", "params", "json", "data", "cookies")
        if body is not None:
            kwargs["json"] = body
        prepared = requests.Request(**{k: v for k, v in kwargs.items() if k in allowed}).prepare()
        content = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
        assert content is None or isinstance(content, bytes), type(content)
        headers = {
            k: v if isinstance(v, str) else v.decode("latin-1")
            for k, v in prepared.headers.items()
            if k.lower() != "content-length"
        }
        return cls(str(prepared.method), str(prepared.url), headers, content, kwargs.get("json"))

    def with_header(self, name: str, value: str | None) -> Wire:
        headers = {k: v for k, v in self.headers.items() if k.lower() != name.lower()}
        if value is not None:
            headers[name] = value
        return Wire(self.method, self.url, headers, self.content, self.body)

    def describe(self) -> str:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _NOISE}
        if "Authorization" in headers and TOKEN in headers["Authorization"]:
            headers["Authorization"] = "Bearer <the operator token>"
        content = self.content.decode(errors="backslashreplace") if self.content else None
        return _printable(f"{self.method} {self.url} headers={headers} body={content}")


_NOISE = {"user-agent", "accept-encoding", "accept", "connection", "x-schemathesis-testcaseid"}


# --- checks --------------------------------------------------------------------------


@dataclass
class Report:
    sent: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, set[int]] = field(default_factory=dict)
    # (operation, kind of failure) -> the first failing request and its story; and a count
    failures: dict[tuple[str, str], str] = field(default_factory=dict)
    counts: dict[tuple[str, str], int] = field(default_factory=dict)

    def fail(self, label: str, wire: Wire, kind: str, story: str = "") -> None:
        key = (label, kind)
        self.counts[key] = self.counts.get(key, 0) + 1
        if key not in self.failures:
            self.failures[key] = f"    request: {wire.describe()}" + (f"\n{story}" if story else "")

    def problems(self) -> str:
        return "\n\n".join(
            f"{label}: {kind} ({self.counts[label, kind]} requests), e.g.\n{first}"
            for (label, kind), first in self.failures.items()
        )

    def summary(self) -> str:
        return "\n".join(
            f"{label}: {n} requests, statuses {sorted(self.statuses[label])}"
            for label, n in sorted(self.sent.items())
        )


def _strings(value: Any, *, keys: bool = False) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            if keys and isinstance(k, str):
                yield k
            yield from _strings(v, keys=keys)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v, keys=keys)


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return {str(k) for k in value} | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


async def send(
    client: httpx.AsyncClient, label: str, wire: Wire, report: Report, property_names: set[str]
) -> None:
    report.sent[label] = report.sent.get(label, 0) + 1
    try:
        r = await client.request(wire.method, wire.url, headers=wire.headers, content=wire.content)
    except Exception as exc:  # an app exception that escaped the handlers: a 500
        report.fail(label, wire, f"the app raised {type(exc).__name__}", _story(exc))
        return
    report.statuses.setdefault(label, set()).add(r.status_code)
    method, path = label.split(" ", 1)
    if r.status_code >= 500 and r.status_code not in SERVER_ERRORS_ALLOWED.get((method, path), ()):
        report.fail(label, wire, f"answered {r.status_code}", _printable(r.text[:300]))
        return
    if not 400 <= r.status_code < 500:
        return
    content_type = r.headers.get("content-type", "")
    if content_type.split(";")[0].strip() != PROBLEM_MEDIA_TYPE:
        report.fail(label, wire, f"{r.status_code} with content type {content_type!r}")
        return
    # Error bodies never repeat request values (they may be names or resident codes).
    # Strings that are also field names of the request or schema name a location, not data.
    try:
        r.json()
    except ValueError:
        report.fail(
            label, wire, f"{r.status_code} problem body is not JSON", _printable(r.text[:300])
        )
        return
    names = _keys(wire.body) | property_names
    found = {
        s
        for s in _strings(wire.body)
        if len(s) >= MIN_ECHO_LENGTH and s not in names and s in _haystack(r)
    }
    # A value found may still be the server's own words ("client" in "client certificate"):
    # it is an echo only if it goes away when the request carries a different value.
    echoed = sorted([s for s in found if not await _still_there(client, wire, s)])
    if echoed:
        report.fail(
            label,
            wire,
            f"{r.status_code} echoes request values",
            _printable(f"{echoed}: {r.text[:300]}"),
        )


def _haystack(r: httpx.Response) -> str:
    """The response text, and its JSON strings decoded (escapes resolved)."""
    try:
        decoded = list(_strings(r.json(), keys=True))
    except ValueError:
        decoded = []
    return "\n".join([r.text, *decoded])


async def _still_there(client: httpx.AsyncClient, wire: Wire, value: str) -> bool:
    """Whether ``value`` is in the response to ``wire`` with ``value`` changed (each
    character to a neighbour of its kind, so that the request takes the same path)."""
    other = "".join(_neighbour(c) for c in value)
    if other == value:
        return True  # cannot tell: not counted as an echo
    body = _replace(wire.body, value, other)
    content = json.dumps(body).encode()
    try:
        r = await client.request(wire.method, wire.url, headers=wire.headers, content=content)
    except Exception:  # a server error: reported by the fuzz itself when it occurs there
        return True
    return value in _haystack(r)


def _neighbour(c: str) -> str:
    for first, last in (("a", "z"), ("A", "Z"), ("0", "9")):
        if first <= c <= last:
            return first if c == last else chr(ord(c) + 1)
    if c.isascii() or not c.isprintable():
        return c
    n = chr(ord(c) + 1)
    return n if unicodedata.category(n) == unicodedata.category(c) else c


def _replace(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return new if value == old else value
    if isinstance(value, dict):
        return {k: _replace(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, old, new) for v in value]
    return value


def _story(exc: BaseException) -> str:
    """The project's frames of the traceback, and the error: enough to find the bug."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith(_OURS)]
    where = "".join(traceback.format_list(frames))
    error = "".join(traceback.format_exception_only(exc))
    return f"    traceback (project frames):\n{where}{_printable(error)}"


def _printable(text: str) -> str:
    """``text`` with control characters escaped, so that a report shows them."""
    return "".join(c if c.isprintable() or c == "\n" else repr(c)[1:-1] for c in text)


_OURS = (str(REPO / "libs"), str(REPO / "services"))


def _property_names(app: FastAPI) -> set[str]:
    return set(_keys(app.openapi().get("components", {}))) | {"body", "query", "path"}


def _assert_clean(report: Report, apps: str) -> None:
    print(f"\n{apps}:\n{report.summary()}")  # noqa: T201 (shown with -s / on failure)
    assert not report.failures, (
        f"{sum(report.counts.values())} failing requests against the {apps}:\n\n"
        + report.problems()
        + f"\n\nall operations:\n{report.summary()}"
    )


# --- the operator app --------------------------------------------------------------


async def test_operator_api_fuzz_finds_no_server_errors(agency: Fixture) -> None:
    app = agency.operator
    cases = generate(app)
    report = Report()
    names = _property_names(app)
    wrong_token = "Bearer " + "y" * 32
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        for i, (label, mode, case) in enumerate(cases):
            body = case.body if isinstance(case.body, dict) else None
            if mode is GenerationMode.POSITIVE and body is not None and i % 2:
                body = {**body, "resident_code": agency.codes[i % len(agency.codes)]}
            if label.endswith("/reinstate") and mode is GenerationMode.POSITIVE and i % 3 == 0:
                # suspended, not suspended, and a NUL byte (PostgreSQL refuses it in text)
                known = [*SUSPENDED, "mofa-passport", "nul\x00byte"]
                case.path_parameters["client"] = known[i // 3 % len(known)]
            wire = Wire.of(case, body)
            # Mostly the real token, so the fuzz reaches the handlers; otherwise what
            # schemathesis generated (wrong, malformed or missing), a wrong one, or none.
            match i % 8 if mode is GenerationMode.POSITIVE else i % 4:
                case 7 | 3:
                    pass
                case 6:
                    wire = wire.with_header("Authorization", wrong_token)
                case 5:
                    wire = wire.with_header("Authorization", None)
                case _:
                    wire = wire.with_header("Authorization", f"Bearer {TOKEN}")
            await send(client, label, wire, report, names)
    assert {label for label, _, _ in cases} >= {
        "GET /healthz", "GET /readyz", "GET /status", "GET /dead-letters",
        "POST /records/lookup", "GET /lookup-admin/permissions", "GET /lookup-admin/alerts",
        "POST /lookup-admin/clients/{client}/reinstate",
    }  # fmt: skip
    for label in ("POST /records/lookup", "POST /lookup-admin/clients/{client}/reinstate"):
        assert 200 in report.statuses[label], f"{label} never answered 200"
    _assert_clean(report, "operator app")


# --- the lookup app ----------------------------------------------------------------


class WithClientCertificate:
    """Puts a client certificate into the ASGI TLS extension of every request, as
    ``jukinet.node.tlsasgi.TlsClientCertProtocol`` does from a verified TLS connection.
    A stand-in for the TLS layer, which tests/federation/test_lookups.py covers."""

    def __init__(self, app: FastAPI, pem: str | None) -> None:
        self.app = app
        self.pem = pem

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and self.pem is not None:
            tls = {
                "client_cert_chain": [self.pem],
                "client_cert_error": None,
                "tls_version": "TLSv1.3",
                "cipher_suite": "TLS_AES_256_GCM_SHA384",
            }
            scope = {**scope, "extensions": {**scope.get("extensions", {}), TLS_EXTENSION: tls}}
        await self.app(scope, receive, send)


def _tls_pem(layout: PkiLayout, principal: Principal) -> str:
    return (layout.node_dir(principal) / "tls.crt").read_text()


GRANTED = {MOFA.name: "passport-issuance", JPA.name: "pension-existence-check"}


def _steer(label: str, body: dict[str, Any], i: int, fx: Fixture) -> tuple[str, dict[str, Any]]:
    """The caller and body of a positive case, moved onto permitted, existing data."""
    person = fx.people[i % len(fx.people)]
    code = person.code if i % 4 else generate_resident_code()  # sometimes: not found
    if label.endswith("/by-facts"):
        facts = {"name": person.name, "birth_date": person.birth_date.isoformat()}
        facts |= {"sex": person.sex.value}
        if body.get("address") is not None:
            facts["address"] = person.address
        return MOFA.name, {**body, "affair": GRANTED[MOFA.name], **facts}
    if label.endswith("/batch"):
        count = max(1, len(body.get("resident_codes") or []))
        codes = [*fx.codes, generate_resident_code()]
        chosen = [codes[(i + n) % len(codes)] for n in range(count)]
        return JPA.name, {**body, "affair": GRANTED[JPA.name], "resident_codes": chosen}
    client = MOFA.name if i % 2 else JPA.name
    return client, {**body, "affair": GRANTED[client], "resident_code": code}


async def test_lookup_api_fuzz_finds_no_server_errors(agency: Fixture) -> None:
    app = agency.lookup
    cases = generate(app)
    report = Report()
    names = _property_names(app)
    garbage = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
    identities: dict[str, str | None] = {
        MOFA.name: _tls_pem(agency.layout, MOFA),
        JPA.name: _tls_pem(agency.layout, JPA),
        "municipality": _tls_pem(agency.layout, HIRATSUKA),
        "no certificate": None,
        "not a certificate": garbage,
    }
    rotation = [MOFA.name, JPA.name, MOFA.name, "municipality", MOFA.name, "no certificate",
                JPA.name, "not a certificate"]  # fmt: skip
    async with AsyncExitStack() as stack:
        clients = {
            name: await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=WithClientCertificate(app, pem)),
                    base_url=BASE_URL,
                )
            )
            for name, pem in identities.items()
        }
        for i, (label, mode, case) in enumerate(cases):
            who = rotation[i % len(rotation)]
            body = case.body if isinstance(case.body, dict) else None
            if mode is GenerationMode.POSITIVE and body is not None and i % 2:
                who, body = _steer(label, body, i, agency)
            await send(clients[who], label, Wire.of(case, body), report, names)
    assert {label for label, _, _ in cases} >= {
        "GET /healthz", "POST /lookups/by-code", "POST /lookups/by-facts", "POST /lookups/batch",
    }  # fmt: skip
    for label in ("POST /lookups/by-code", "POST /lookups/by-facts", "POST /lookups/batch"):
        assert 200 in report.statuses[label], f"{label} never answered 200"
    _assert_clean(report, "lookup app")
