"""Debian's Chromium, driven by Playwright, as on a closed network: every request to a
host other than this machine is refused, so a page that reaches for a CDN shows it.

Playwright's own browser download cannot work here; the system Chromium is used
(``apt-get install chromium``; `.ci/run` installs it). Without it, browser tests skip
with that message — or fail, where ``JUKINET_REQUIRE_BROWSER`` is set (CI)."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

LOCAL_HOSTS = {"127.0.0.1", "localhost"}
ARTEFACTS = Path(os.environ.get("JUKINET_ARTEFACTS", "var/test-artefacts"))


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = "Chromium is not installed: apt-get install chromium (browser tests skipped)"
        if os.environ.get("JUKINET_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@asynccontextmanager
async def closed_network_page(**context_options: Any) -> AsyncIterator[Any]:
    """A page of a fresh headless Chromium whose requests leave only for this machine;
    what else it asked for is in ``page.blocked``."""
    from playwright.async_api import Route, async_playwright

    executable = chromium_path()
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            context = await browser.new_context(**context_options)
            blocked: list[str] = []

            async def only_local(route: Route) -> None:
                host = urlsplit(route.request.url).hostname or ""
                if host in LOCAL_HOSTS or route.request.url.startswith(("data:", "blob:")):
                    await route.continue_()
                else:
                    blocked.append(route.request.url)
                    await route.abort()

            await context.route("**/*", only_local)
            page = await context.new_page()
            page.blocked = blocked
            yield page
        finally:
            await browser.close()


async def screenshot(page: Any, name: str) -> Path:
    """Keep a screenshot as a test artefact."""
    path = ARTEFACTS / f"{name}.png"
    await asyncio.to_thread(ARTEFACTS.mkdir, parents=True, exist_ok=True)
    await page.screenshot(path=str(path), full_page=True)
    return path
