"""A demo clerk for the counter of a local federation — FOR LOCAL USE ONLY: its password
sits in a file next to the federation's state, and its IC card is whatever FIDO2
authenticator the browser offers (a virtual one from Chromium's DevTools will do).
A real office creates its operators with `jukinet operators create` and gives each an
enrolment code in person."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from sqlalchemy import MetaData, select

from jukinet.contracts.principals import Principal
from jukinet.db.engine import create_engine, session_factory
from jukinet.operators import (
    Actor,
    Operation,
    Role,
    append_operation,
    card_principal,
    issue_enrolment,
    operator_tables,
    register_operator,
    webauthn_tables,
)
from jukinet.pki import (
    CertificateAuthority,
    Credentials,
    PkiLayout,
    Purpose,
    read_certificate,
    utcnow,
)

__all__ = ["DEMO_CLERK", "DemoClerk", "make_demo_clerk"]

DEMO_CLERK = "demo-clerk"
_FILE = "demo-clerk.json"


@dataclass(frozen=True)
class DemoClerk:
    town: Principal
    slug: str
    password: str
    enrolment_code: str


async def make_demo_clerk(
    root: Path, layout: PkiLayout, town: Principal, database_url: str
) -> DemoClerk:
    """The town's demo clerk (created once; its password kept in ``root``), with a fresh
    enrolment code for registering a browser authenticator as its card."""
    saved = root / _FILE
    known = json.loads(saved.read_text()) if saved.exists() else {}
    password = known.get(town.code) or secrets.token_urlsafe(12)
    tables, cards = operator_tables(MetaData()), webauthn_tables(MetaData())
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            exists = (
                await session.execute(select(tables.operators.c.slug)
                                      .where(tables.operators.c.slug == DEMO_CLERK))
            ).first() is not None  # fmt: skip
            if not exists:
                card = _card(layout, town)
                await register_operator(session, tables, slug=DEMO_CLERK, role=Role.CLERK,
                                        password=password, card=card)  # fmt: skip
            code = await issue_enrolment(session, tables, cards, DEMO_CLERK, utcnow())
            assert code is not None  # noqa: S101 - just made or found
            key, _ = Credentials.load(layout.node_dir(town), layout.ca_cert, town).require_signing()
            actor = Actor("demo", Role.SYSTEM)
            await append_operation(session, tables, Operation.of(
                actor, "operators.enrolment", DEMO_CLERK, "ok"), key)  # fmt: skip
    finally:
        await engine.dispose()
    known[town.code] = password
    saved.touch(mode=0o600, exist_ok=True)
    saved.write_text(json.dumps(known))
    return DemoClerk(town, DEMO_CLERK, password, code)


def _card(layout: PkiLayout, town: Principal) -> x509.Certificate:
    ca = CertificateAuthority.load(layout.ca_dir)
    principal = card_principal(town, DEMO_CLERK)
    layout.issue(ca, principal, validity=dt.timedelta(days=7))
    return read_certificate(layout.node_dir(principal) / f"{Purpose.SIGN.value}.crt")
