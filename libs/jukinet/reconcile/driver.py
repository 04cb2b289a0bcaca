"""Comparing every municipality with its prefecture and the agency over the nodes'
reconciliation APIs, and asking municipalities to repair what drifted."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from jukinet.contracts.principals import AGENCY, Principal, PrincipalKind
from jukinet.reconcile.digests import Drift, Entry, compare

__all__ = ["RepairSent", "TierReport", "reconcile_federation"]


@dataclass
class TierReport:
    municipality: str
    tier: str
    drift: Drift

    def as_dict(self) -> dict[str, Any]:
        return {
            "municipality": self.municipality,
            "tier": self.tier,
            **self.drift.counts(),
            "codes": {
                "missing": self.drift.missing,
                "extra": self.drift.extra,
                "differing": self.drift.differing,
            },
        }


@dataclass(frozen=True)
class RepairSent:
    """What a municipality sent to repair its drift: its current record of each code it
    holds, and an absence notice for each code it does not."""

    municipality: str
    codes: int
    records: int
    absent: int


async def _digests(client: httpx.AsyncClient, url: str, town: str) -> dict[str, str]:
    r = await client.post(f"{url}/reconcile/digests", json={"municipality": town})
    r.raise_for_status()
    return dict(r.json()["digests"])


async def _entries(client: httpx.AsyncClient, url: str, town: str, bucket: str) -> list[Entry]:
    r = await client.post(f"{url}/reconcile/entries", json={"municipality": town, "bucket": bucket})
    r.raise_for_status()
    return [Entry.model_validate(e) for e in r.json()]


async def _drift(
    client: httpx.AsyncClient, nodes: dict[str, str], town: Principal, tier: Principal
) -> Drift:
    source = await _digests(client, nodes[town.uri], town.code)
    lower = await _digests(client, nodes[tier.uri], town.code)
    drift = Drift()
    for bucket in sorted(set(source) | set(lower)):
        if source.get(bucket) == lower.get(bucket):
            continue
        part = compare(
            await _entries(client, nodes[town.uri], town.code, bucket),
            await _entries(client, nodes[tier.uri], town.code, bucket),
        )
        drift.missing += part.missing
        drift.extra += part.extra
        drift.differing += part.differing
    return drift


async def reconcile_federation(
    nodes: dict[str, str],
    token: str,
    *,
    repair: bool = False,
    sent: list[RepairSent] | None = None,
) -> list[TierReport]:
    """``nodes`` maps principal URIs to operator API URLs. Each municipality is compared
    with its prefecture and with the agency; with ``repair``, each municipality sends its
    own state of every drifted code through the signed channel (and what it sent is
    appended to ``sent``)."""
    towns = [
        Principal.parse(u) for u in nodes if Principal.parse(u).kind is PrincipalKind.MUNICIPALITY
    ]
    reports = []
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(headers=headers, timeout=60.0) as client:
        for town in towns:
            codes: set[str] = set()
            for tier in (town.prefecture_of, AGENCY):
                drift = await _drift(client, nodes, town, tier)
                reports.append(TierReport(town.code, tier.code, drift))
                codes |= set(drift.missing) | set(drift.extra) | set(drift.differing)
            if repair and codes:
                r = await client.post(
                    f"{nodes[town.uri]}/reconcile/repair", json={"codes": sorted(codes)}
                )
                r.raise_for_status()
                counts = r.json()
                if sent is not None:
                    sent.append(
                        RepairSent(town.code, len(codes), counts["records"], counts["absent"])
                    )
    return reports
