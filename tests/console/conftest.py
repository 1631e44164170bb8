"""A real Chromium (Debian's package, driven by Playwright) against the stack's API process.

Every page a test opens is watched: a JavaScript error or a failed request fails the test, and
``accessible(page)`` runs axe-core on what is shown."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.support import Stack

AXE = Path(__file__).parent / "vendor" / "axe-4.14.1.min.js"
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


def chromium_path() -> str:
    """Debian's Chromium (scripts/ensure-chromium installs it), or the one HERALD_CHROMIUM names."""
    wanted = os.environ.get("HERALD_CHROMIUM", "chromium")
    found = shutil.which(wanted)
    if found is None:
        raise RuntimeError(f"no {wanted!r} on PATH: run scripts/ensure-chromium (make test does)")
    return found


# Module scope, not session: while Playwright's synchronous API is open its event loop counts as
# running in this thread, and every asyncio test collected after the browser tests would fail.
@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        yield browser
        browser.close()


# How long an action, and an assertion on what the page shows, may wait: the whole suite shares
# two cores with its workers and databases, and a fragment can take seconds there (Playwright's
# assertions otherwise give up after 5 s, while actions wait 15).
ACTION_TIMEOUT_MS = 15_000
expect.set_options(timeout=ACTION_TIMEOUT_MS)


@dataclass
class Watched:
    """What went wrong on the pages of one browser context."""

    errors: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("pageerror", lambda exc: self.errors.append(f"{page.url}: {exc}"))
        page.on(
            "console",
            lambda msg: (
                self.errors.append(f"{page.url}: {msg.text}") if msg.type == "error" else None
            ),
        )


@dataclass
class Console:
    """The console in a browser: its base URL, and contexts made for the test."""

    base: str
    chromium: Browser
    watched: Watched = field(default_factory=Watched)
    contexts: list[BrowserContext] = field(default_factory=list)
    # Set by a test that asks for refusals (a 403 page, a wrong password, a forged post): the
    # browser logs each as a failed load.
    refusals_expected: bool = False

    def page(self, viewport: dict[str, int] | None = None) -> Page:
        context = self.chromium.new_context(viewport=viewport or DESKTOP, base_url=self.base)  # type: ignore[arg-type]
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        self.contexts.append(context)
        page = context.new_page()
        self.watched.watch(page)
        return page


# How the browser and htmx log a 4xx answer.
REFUSED = re.compile(
    r"Failed to load resource: the server responded with a status of 4\d\d"
    r"|Response Status Error Code 4\d\d"
)


@pytest.fixture
def console(stack: Stack, chromium: Browser) -> Iterator[Console]:
    opened = Console(base=str(stack.api.base_url).rstrip("/"), chromium=chromium)
    yield opened
    for context in opened.contexts:
        context.close()
    unexpected = [
        e for e in opened.watched.errors if not (opened.refusals_expected and REFUSED.search(e))
    ]
    assert unexpected == [], unexpected


def accessible(page: Page) -> None:
    """axe-core on the page as shown: no serious or critical violation."""
    page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    serious = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == [], f"{page.url}: {serious}"
