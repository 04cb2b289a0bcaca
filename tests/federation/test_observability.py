"""Prometheus metrics on every service and a correlation id that follows a change from
municipality to agency through the structured logs — with no personal data in either."""

from __future__ import annotations

import re
from typing import Any

import httpx
import nats
import pytest
from prometheus_client.parser import text_string_to_metric_families

from jukinet.contracts.subjects import inbox_prefix
from jukinet.devtools.localfed import LocalFederation
from jukinet.devtools.synthetic import SyntheticResidents
from tests.federation.support import PersonalData, eventually, query, tier_record
from tests.principals import AGENCY, HIRATSUKA, KANAGAWA, MOFA

pytestmark = [pytest.mark.federation, pytest.mark.asyncio(loop_scope="session")]

CODE = re.compile(r"\d{11}")


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = await client.get("/metrics")
    assert r.status_code == 200
    samples = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def all_label_values(samples: dict[Any, float]) -> set[str]:
    return {v for (_, labels) in samples for _, v in labels}


async def test_metrics_move_with_traffic_and_hold_no_personal_data(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    """Every figure is compared with its value before this test: other modules' traffic
    runs through the same nodes."""
    nodes = (HIRATSUKA, KANAGAWA, AGENCY)
    clients = {n: federation.client(n) for n in nodes}
    lookup = federation.lookup_client(AGENCY, MOFA)
    try:
        before = {n: await scrape(clients[n]) for n in nodes}
        lookups_before = await scrape(lookup)
        body = SyntheticResidents(seed=77).registration(HIRATSUKA.code)
        personal_data.add_body(body)
        r = await clients[HIRATSUKA].post("/residents", json=body)
        code = r.json()["resident_code"]
        personal_data.add(code)

        async def stored_at_agency() -> bool:
            s = await scrape(clients[AGENCY])
            return (
                value(s, "jukinet_messages_consumed_total", outcome="applied")
                > value(before[AGENCY], "jukinet_messages_consumed_total", outcome="applied")
                and await tier_record(federation, AGENCY, code) is not None
            )

        await eventually(stored_at_agency)
        asked = await lookup.post(
            "/lookups/by-code", json={"affair": "passport-issuance", "resident_code": code}
        )
        assert asked.status_code == 200
        refused = await lookup.post(
            "/lookups/by-code", json={"affair": "student-loans", "resident_code": code}
        )
        assert refused.status_code == 403
        await _publish_garbage(federation)

        async def dead_lettered() -> bool:
            s = await scrape(clients[KANAGAWA])
            return value(s, "jukinet_dead_letters_total", reason="decryption_failed") > value(
                before[KANAGAWA], "jukinet_dead_letters_total", reason="decryption_failed"
            )

        await eventually(dead_lettered)
        after = {n: await scrape(clients[n]) for n in nodes}
        lookups = await scrape(lookup)
    finally:
        for c in (*clients.values(), lookup):
            await c.aclose()

    assert value(after[HIRATSUKA], "jukinet_messages_published_total") > value(
        before[HIRATSUKA], "jukinet_messages_published_total"
    )
    assert value(after[KANAGAWA], "jukinet_messages_consumed_total", outcome="applied") > value(
        before[KANAGAWA], "jukinet_messages_consumed_total", outcome="applied"
    )
    assert value(after[KANAGAWA], "jukinet_messages_consumed_total", outcome="refused") > value(
        before[KANAGAWA], "jukinet_messages_consumed_total", outcome="refused"
    )
    for affair, outcome in (
        ("passport-issuance", "provided"),
        ("student-loans", "refused:affair_not_permitted"),
    ):
        labels = {"affair": affair, "outcome": outcome}
        counted = value(lookups, "jukinet_lookups_total", **labels)
        assert counted == value(lookups_before, "jukinet_lookups_total", **labels) + 1, labels
    assert ("jukinet_outbox_backlog", ()) in after[HIRATSUKA]
    assert ("jukinet_consumer_lag", ()) in after[KANAGAWA]
    routes = {
        dict(labels).get("route")
        for (name, labels) in after[HIRATSUKA]
        if name.startswith("jukinet_http_request_duration")
    }
    assert "/residents" in routes
    for samples in (*after.values(), lookups):
        labels = all_label_values(samples)
        assert not [v for v in labels if CODE.search(v)]
        assert not labels & personal_data.values
        assert not [v for v in labels if any(p in v for p in personal_data.values if len(p) > 3)]


async def _publish_garbage(fed: LocalFederation) -> None:
    """Hiratsuka's own connection, on its own subject, with bytes that are no envelope."""
    nc = await nats.connect(
        servers=[fed.nats_url], tls=fed.tls(HIRATSUKA), tls_hostname="localhost",
        inbox_prefix=inbox_prefix(HIRATSUKA), allow_reconnect=False,
    )  # fmt: skip
    try:
        await nc.jetstream().publish(
            "jukinet.msg.140007.142034", b"not.an.envelope.at.all", timeout=5
        )
    finally:
        await nc.close()


async def test_a_correlation_id_follows_a_change_to_the_agency(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    body = SyntheticResidents(seed=78).registration(HIRATSUKA.code)
    personal_data.add_body(body)
    async with federation.client(HIRATSUKA) as c:
        r = await c.post("/residents", json=body)
    personal_data.add(r.json()["resident_code"])
    rows = await query(
        federation,
        HIRATSUKA,
        "SELECT correlation_id FROM resident_versions WHERE resident_id = :r",
        r=r.json()["id"],
    )
    correlation = rows[0][0]
    logs = federation.root / "log"

    async def everywhere() -> bool:
        return all(
            f'"correlation_id": "{correlation}"' in (logs / f"{n.slug}.log").read_text()
            for n in (HIRATSUKA, KANAGAWA, AGENCY)
        )

    await eventually(everywhere)


async def test_no_personal_data_reached_any_log(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    assert personal_data.leaks(federation.root / "log") == []
