"""The console in a real browser: Debian's `chromium` driven by Playwright, against the whole
service (real Valkey, real worker and model, uvicorn over real HTTP), keys on."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from app.core.auth import new_key
from app.core.embedded import EmbeddedRedis
from tests.e2e.conftest import ROOT, Cluster, cluster_on_db

KEY, KEY_ENTRY = new_key("console")
OTHER_KEY, OTHER_ENTRY = new_key("someone-else")
# Screenshots a run leaves behind (the README's is committed under docs/).
SHOTS = ROOT / "build" / "screenshots"


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:  # a missing browser is a broken set-up, not a reason to skip
        pytest.fail("Debian's chromium is needed: apt-get install chromium (.ci/run does)")
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Per module, not per session: Playwright's sync API runs an event loop in this thread for
    # as long as it is open, and later tests call asyncio.run().
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def cluster(
    redis_server: EmbeddedRedis, models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    with cluster_on_db(
        redis_server,
        9,
        tmp_path_factory.mktemp("console"),
        models_dir,
        WHISPER_JOBS_API_KEYS=f"{KEY_ENTRY},{OTHER_ENTRY}",
    ) as c:
        c.http.headers["Authorization"] = f"Bearer {KEY}"
        yield c


class Watched:
    """A page with what it did: browser errors, dialogs (alert() must never run), requests."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("dialog", self._dialog)
        page.on("request", lambda r: self.requests.append(r.url))

    def _dialog(self, dialog) -> None:  # type: ignore[no-untyped-def]
        self.dialogs.append(dialog.message)
        dialog.dismiss()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def watched(context: BrowserContext) -> Watched:
    return Watched(context.new_page())


def sign_in(page: Page, url: str, key: str = KEY) -> None:
    page.goto(url + "/")
    page.get_by_label("Key").fill(key)
    page.get_by_role("button", name="Use this key").click()
