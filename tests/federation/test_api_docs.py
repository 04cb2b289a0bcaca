"""API documentation on a closed network: every service and lookup server serves its
Swagger UI and ReDoc pages with every script and style from itself — nothing from a
CDN, which a Juki-Net segment never reaches."""

from __future__ import annotations

import re

import httpx
import pytest

from jukinet.contracts.principals import Principal, PrincipalKind
from jukinet.devtools.localfed import LocalFederation
from tests.browser import closed_network_page, screenshot
from tests.federation.support import on_one_backend
from tests.principals import AGENCY, HIRATSUKA, KANAGAWA

pytestmark = [pytest.mark.federation, pytest.mark.asyncio(loop_scope="session")]

_REFERENCE = re.compile(r"""(?:src|href|url)\s*[:=]\s*['"]([^'"]+)['"]""")
PENSION = Principal(PrincipalKind.MINISTRY, "jpa-pension")


async def _check_pages(client: httpx.AsyncClient) -> None:
    for page in ("/docs", "/redoc"):
        r = await client.get(page)
        assert r.status_code == 200, (page, r.status_code)
        assert r.headers["content-type"].startswith("text/html")
        references = _REFERENCE.findall(r.text)
        assert references, page
        for ref in references:
            assert ref.startswith("/"), f"{page} loads {ref} from elsewhere"
            asset = await client.get(ref)
            assert asset.status_code == 200, ref
            if ref.endswith(".js"):
                assert "javascript" in asset.headers["content-type"], ref
            if ref.endswith(".css"):
                assert asset.headers["content-type"].startswith("text/css"), ref
        assert "cdn.jsdelivr.net" not in r.text
        assert "fonts.googleapis.com" not in r.text
    spec = (await client.get("/openapi.json")).json()
    assert spec["paths"]


@pytest.mark.parametrize("node", [HIRATSUKA, KANAGAWA, AGENCY], ids=lambda n: n.kind.value)
async def test_every_service_serves_its_docs_from_itself(
    federation: LocalFederation, node: Principal
) -> None:
    async with httpx.AsyncClient(base_url=federation.nodes[node].url, timeout=20) as client:
        await _check_pages(client)


async def test_the_lookup_server_serves_its_docs_from_itself(federation: LocalFederation) -> None:
    async with federation.lookup_client(AGENCY, PENSION) as client:
        await _check_pages(client)


@pytest.mark.parametrize("node", [HIRATSUKA, AGENCY], ids=lambda n: n.kind.value)
async def test_the_root_says_what_the_service_is_and_links_what_it_serves(
    federation: LocalFederation, node: Principal
) -> None:
    async with httpx.AsyncClient(base_url=federation.nodes[node].url, timeout=20) as client:
        r = await client.get("/")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/html")
        assert "jukinet" in r.text
        links = re.findall(r'href="([^"]+)"', r.text)
        assert "/docs" in links
        assert ("/ui/" in links) == (node == HIRATSUKA)  # a municipality's counter
        for link in links:
            assert (await client.get(link)).status_code != 404, link


async def test_the_docs_pages_show_the_operations_in_a_browser(
    federation: LocalFederation, request: pytest.FixtureRequest
) -> None:
    """Swagger UI, rendered by Chromium with every other host unreachable, lists each
    service's operations (a blank page is what a CDN-loaded UI shows here)."""
    on_one_backend(request, "the docs pages do not depend on the database")
    async with closed_network_page() as page:
        for node in (HIRATSUKA, KANAGAWA, AGENCY):
            url = federation.nodes[node].url
            async with httpx.AsyncClient(base_url=url, timeout=20) as client:
                spec = (await client.get("/openapi.json")).json()
            summaries = [o["summary"] for p in spec["paths"].values() for o in p.values()]
            await page.goto(f"{url}/docs")
            await page.wait_for_selector(".opblock", timeout=30_000)
            shown = await page.locator(".opblock-summary-path").count()
            assert shown == len(summaries), node
            assert summaries[0] in await page.inner_text("body")
            await screenshot(page, f"docs-{node.slug}")
        assert page.blocked == []


async def test_the_lookup_servers_docs_show_in_a_browser_with_a_client_certificate(
    federation: LocalFederation, request: pytest.FixtureRequest
) -> None:
    """The lookup server asks every client, a browser too, for a federation certificate;
    its Swagger UI and ReDoc render.
    (Chromium does not trust the federation CA, so its server check is off here; the
    server certificate is verified by curl and Python in the integrator tests.)"""
    on_one_backend(request, "the docs pages do not depend on the database")
    tls = federation.layout.node_dir(PENSION)
    url = federation.lookup_servers[AGENCY].url
    certificate = {"origin": url, "certPath": str(tls / "tls.crt"), "keyPath": str(tls / "tls.key")}
    async with closed_network_page(
        client_certificates=[certificate], ignore_https_errors=True
    ) as page:
        await page.goto(f"{url}/docs")
        await page.wait_for_selector(".opblock", timeout=30_000)
        assert "/lookups/by-code" in await page.inner_text("body")
        # ReDoc too, here: it renders the same way on every service, slowly, so on the
        # smallest document
        await page.goto(f"{url}/redoc")
        await page.wait_for_selector("[data-section-id]", timeout=30_000)
        assert "/subscriptions/changes" in await page.inner_text("body")
        assert page.blocked == []
