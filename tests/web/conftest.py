"""A `chainrule serve` server for the web tests (in this process, on a free port), and a headless Chromium.

The browser is Debian's chromium (apt-get install chromium), driven by Playwright for Python through
`executable_path`: Playwright never downloads a browser here. Without Playwright or the browser, the browser tests
skip and say why. CHAINRULE_CHROMIUM names another Chromium binary.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from chainrule.web.server import Settings, start, stop

ARTIFACTS = Path(__file__).parent / "artifacts"     # screenshots (ignored by git: *.png)


def chromium_path() -> str | None:
    given = os.environ.get("CHAINRULE_CHROMIUM")
    if given:
        return given if Path(given).exists() else None
    for candidate in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if Path(candidate).exists():
            return candidate
    return shutil.which("chromium")


@pytest.fixture(scope="session")
def server():
    srv, _ = start(Settings(port=0, workers=2, timeout=20.0))
    yield srv
    stop(srv)


@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the browser tests need Playwright for Python (pip install -e '.[test]')")
    path = chromium_path()
    if path is None:
        pytest.skip("the browser tests need Chromium at /usr/bin/chromium (apt-get install chromium), "
                    "or CHAINRULE_CHROMIUM=/path/to/chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, headless=True, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    """A fresh page that records every request and every console error; the test asserts none went elsewhere."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.requests, pg.console_errors = [], []
    pg.on("request", lambda r: pg.requests.append(r.url))
    pg.on("console", lambda m: pg.console_errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.console_errors.append(str(e)))
    pg.base = server.url
    yield pg
    context.close()
    outside = [u for u in pg.requests if not (u.startswith((server.url, "data:", "blob:")))]
    assert not outside, f"requests to somewhere else than the local server: {outside}"
    assert not pg.console_errors, f"console errors: {pg.console_errors}"


@pytest.fixture
def screenshot():
    """shoot(page, name): a full-page screenshot saved as tests/web/artifacts/<name>.png (a test artefact)."""
    def shoot(page, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path
    return shoot
