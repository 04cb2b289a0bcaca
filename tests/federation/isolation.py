"""Keeping a test to what it did itself, on the federation every module shares.

Other modules' residents, dead letters, metrics and drift are there before a test starts
and some of their messages may still be on their way; these helpers turn "the node has
X" into "X appeared since this test began" or "X, about this test's own codes"."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Collection
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from jukinet.contracts.principals import Principal
from jukinet.db.engine import create_engine
from jukinet.devtools.localfed import LocalFederation
from jukinet.pki import CertificateAuthority, Purpose
from jukinet.reconcile.digests import Drift
from jukinet.reconcile.driver import reconcile_federation
from tests.federation.support import database_url_of, query

# -- dead letters -------------------------------------------------------------------------


async def dead_letter_mark(fed: LocalFederation, node: Principal) -> int:
    """The id of the node's newest dead letter (0 if none): what came before this test."""
    rows = await query(fed, node, "SELECT coalesce(max(id), 0) FROM dead_letters")
    return int(rows[0][0])


async def dead_letters_since(
    fed: LocalFederation, node: Principal, mark: int
) -> list[dict[str, Any]]:
    """The node's dead letters (GET /dead-letters) recorded after ``mark``."""
    async with fed.client(node) as client:
        r = await client.get("/dead-letters", params={"limit": 1000})
    r.raise_for_status()
    return [d for d in r.json() if int(d["id"]) > mark]


# -- metrics ------------------------------------------------------------------------------


async def metric(client: httpx.AsyncClient, name: str, **labels: str) -> float:
    """One sample of a node's /metrics (0 when absent): compare it with an earlier one."""
    r = await client.get("/metrics")
    r.raise_for_status()
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


# -- a channel the test writes on as a running node ---------------------------------------


async def reserve_sequence(fed: LocalFederation, sender: Principal, recipient: Principal) -> int:
    """Take the next sequence number of ``sender``'s channel to ``recipient`` from the
    sender's own table, as its relay would, for a message the test seals as ``sender``.
    The node's next real message then carries the number after it and is not refused as
    a sequence regression."""
    engine = create_engine(database_url_of(fed, sender))
    try:
        async with engine.begin() as conn:
            bumped = await conn.execute(
                text(
                    "UPDATE channel_sequences SET last_sequence = last_sequence + 1 "
                    "WHERE recipient = :r"
                ),
                {"r": recipient.uri},
            )
            if bumped.rowcount == 0:
                await conn.execute(
                    text("INSERT INTO channel_sequences (recipient, last_sequence) VALUES (:r, 1)"),
                    {"r": recipient.uri},
                )
            taken = await conn.execute(
                text("SELECT last_sequence FROM channel_sequences WHERE recipient = :r"),
                {"r": recipient.uri},
            )
            return int(taken.scalar_one())
    finally:
        await engine.dispose()


# -- a municipality in the network that answers nobody ------------------------------------


def certify_silent_town(fed: LocalFederation, town: Principal) -> None:
    """Certificates for ``town`` in the federation's directory, and no node running as
    it: messages can be sealed to it, and nobody answers there. Use a town no other
    module names."""
    if fed.layout.public_cert(town, Purpose.KEX).exists():
        return
    ca = CertificateAuthority.load(fed.layout.ca_dir)
    fed.layout.issue(ca, town, validity=dt.timedelta(days=1))


# -- reconciliation -----------------------------------------------------------------------

Drifts = dict[tuple[str, str], Drift]  # (municipality, tier) → drift


async def drifts(fed: LocalFederation, *, repair: bool = False) -> Drifts:
    nodes = {p.uri: n.url for p, n in fed.nodes.items()}
    reports = await reconcile_federation(nodes, fed.api_token, repair=repair)
    return {(r.municipality, r.tier): r.drift for r in reports}


async def settled_drifts(fed: LocalFederation, *, seconds: float = 60.0) -> Drifts:
    """The federation's drift once two reconciliations in a row agree: what other
    modules left (their messages still on the way have arrived, or are not moving)."""
    last = await drifts(fed)
    for _ in range(int(seconds / 0.5)):  # bounded
        await asyncio.sleep(0.5)
        now = await drifts(fed)
        if now == last:
            return now
        last = now
    raise AssertionError(f"reconciliation did not settle within {seconds}s")


def about(drift: Drift, codes: Collection[str]) -> Drift:
    """The part of ``drift`` about ``codes``."""
    return Drift(
        missing=[c for c in drift.missing if c in codes],
        extra=[c for c in drift.extra if c in codes],
        differing=[c for c in drift.differing if c in codes],
    )


def besides(drift: Drift, codes: Collection[str]) -> Drift:
    """The part of ``drift`` about every code but ``codes``."""
    return Drift(
        missing=[c for c in drift.missing if c not in codes],
        extra=[c for c in drift.extra if c not in codes],
        differing=[c for c in drift.differing if c not in codes],
    )


def within(drift: Drift, before: Drift) -> bool:
    """Whether every difference in ``drift`` was already in ``before`` (others' drift may
    settle meanwhile, never grow)."""
    return (
        set(drift.missing) <= set(before.missing)
        and set(drift.extra) <= set(before.extra)
        and set(drift.differing) <= set(before.differing)
    )
