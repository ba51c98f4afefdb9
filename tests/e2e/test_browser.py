"""The link flow clicked through in a real headless Chromium (Debian's), loopback only.

Screenshots land in `artifacts/` (not committed) for a reviewer to look at.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.conftest import REQUIRE_SERVICES
from tests.e2e.test_account_flow import link_button
from web_callback import BROWSER_COOKIE

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if path:
        return path
    message = "Chromium not installed: apt-get install chromium (bash .ci/run installs it)"
    if REQUIRE_SERVICES:
        pytest.fail(message)
    pytest.skip(message)


@pytest_asyncio.fixture
async def browser_page() -> AsyncIterator[object]:
    playwright_api = pytest.importorskip("playwright.async_api")
    executable = chromium_path()
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_FLAGS
        )
        page = await browser.new_page(viewport={"width": 900, "height": 760})
        yield page
        await browser.close()


async def test_a_person_links_their_account_in_a_browser(world, browser_page):
    page = browser_page
    ARTIFACTS.mkdir(exist_ok=True)
    login = await (await world.discord.slash("login")).wait_for_message()

    await page.goto(link_button(login))

    assert await page.title() == "Twitch account linked · StreamStats"
    assert await page.locator("h1").inner_text() == "Twitch account linked"
    assert await page.locator("#twitch-account").inner_text() == "Viewer_One"
    token = await page.locator("#api-token").input_value()
    assert token.count(".") == 2
    assert "one hour after linking" in await page.locator("#expires-at").inner_text()
    assert await page.get_by_text("You can return to Discord").is_visible()
    await page.screenshot(path=ARTIFACTS / "link-success.png", full_page=True)
    assert BROWSER_COOKIE not in {cookie["name"] for cookie in await page.context.cookies()}

    declined = world.services.web_url + "/callback?error=access_denied&state=x"
    await page.goto(declined)
    assert await page.locator("h1").inner_text() == "You declined the link on Twitch"
    assert await page.get_by_text("Run /login in Discord again").is_visible()
    await page.screenshot(path=ARTIFACTS / "link-declined.png", full_page=True)

    await page.goto(world.services.web_url + "/callback?code=abc&state=forged")
    assert await page.locator("h1").inner_text() == "This login link cannot be used"
    await page.screenshot(path=ARTIFACTS / "link-invalid.png", full_page=True)


async def test_twitchs_page_opened_without_our_login_is_refused_in_a_browser(world, browser_page):
    """Someone else opened our /login (their cookie, not this browser's) and sent this browser
    the Twitch page it led to."""
    page = browser_page
    ARTIFACTS.mkdir(exist_ok=True)
    login = await (await world.discord.slash("login")).wait_for_message()
    async with world.http.get(link_button(login), allow_redirects=False) as elsewhere:
        twitch_page = elsewhere.headers["Location"]

    await page.goto(twitch_page)

    assert await page.locator("h1").inner_text() == "This link was not started in this browser"
    assert await page.get_by_text("Nothing was stored").is_visible()
    await page.screenshot(path=ARTIFACTS / "link-other-browser.png", full_page=True)
