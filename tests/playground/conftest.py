"""Fixtures of the playground tests: a real ``seqedit serve`` (classic engine) and Debian's Chromium
driven by Playwright.

The browser tests skip, naming what is missing, when Playwright is not installed or Chromium is not at
``CHROMIUM`` or cannot start (``scripts/test`` installs Debian's ``chromium`` with apt-get when it is
missing). Playwright never downloads a browser here: it is given Debian's executable.

Every request a page makes goes through a route on the browser context: one for this server's
``host:port`` continues, any other is aborted and recorded, and each test checks afterwards that none
was made. Screenshots go to a ``playground-shots`` folder under pytest's temporary directory (and are
copied to ``$SEQEDIT_SHOTS_DIR`` when it is set).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from fixtures.server import Server

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PLAYGROUND_LINE = re.compile(r"Playground: (http://\S+/\?token=(\S+)) ")
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 812}


def signin_url(server: Server) -> str:
    """The one-time sign-in URL that ``seqedit serve`` printed."""
    m = PLAYGROUND_LINE.search(server.log())
    assert m, f"seqedit serve printed no Playground line:\n{server.log()}"
    return m.group(1)


def another_signin_url(server: Server) -> str:
    """A new one-time sign-in URL for the server's key, minted as ``serve`` mints the printed one (each
    works once, and the printed one belongs to the test that checks it)."""
    from seqedit.jobs.signins import SignIns
    from seqedit.jobs.store import Store

    store = Store(f"sqlite:///{(server.data_dir / 'seqedit.db').resolve()}")
    try:
        key = next(k for k in store.list_keys() if k["revoked_at"] is None)
        secret = (server.data_dir / "secret").read_text().strip().encode()
        return f"{server.url}/?token={SignIns(store.engine, secret).issue(key['id'])}"
    finally:
        store.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("playground-serve"), engine="classic").start(timeout=90)
    try:
        yield srv
    finally:
        srv.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install 'seqedit[test]')"
    )
    if not CHROMIUM.is_file():
        pytest.skip(f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install chromium; scripts/test does)")
    with sync_api.sync_playwright() as pw:
        try:  # Playwright gives each launch a fresh, empty --user-data-dir of its own and removes it after
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, headless=True)
        except sync_api.Error as exc:  # the executable is there but does not run (missing libraries, …)
            pytest.skip(f"Chromium at {CHROMIUM} cannot start: {str(exc).splitlines()[0]}")
        try:
            yield browser
        finally:
            browser.close()


class Guard:
    """Records every request of a context; only ``host`` (this server's host:port) is let through."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.seen: list[str] = []
        self.foreign: list[str] = []

    def __call__(self, route: Any) -> None:
        url = route.request.url
        self.seen.append(url)
        if urlsplit(url).netloc == self.host:
            route.continue_()
        else:
            self.foreign.append(url)
            route.abort()


def new_context(browser: Any, server: Server, **kwargs: Any) -> tuple[Any, Guard]:
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True, **kwargs)
    guard = Guard(urlsplit(server.url).netloc)
    context.route("**/*", guard)
    return context, guard


@pytest.fixture(scope="module")
def session(browser: Any, server: Server) -> Iterator[tuple[Any, Guard]]:
    """A browser context signed in once, through a sign-in URL of its own."""
    context, guard = new_context(browser, server)
    page = context.new_page()
    page.goto(another_signin_url(server))
    page.wait_for_selector("body[data-ready='1']", timeout=30_000)
    page.close()
    try:
        yield context, guard
    finally:
        context.close()


@pytest.fixture
def page(session: tuple[Any, Guard], server: Server) -> Iterator[Any]:
    context, guard = session
    errors: list[str] = []
    pg = context.new_page()
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.goto(server.url + "/")
    pg.wait_for_selector("body[data-ready='1']", timeout=30_000)
    yield pg
    pg.close()
    assert not errors, f"the page threw: {errors}"
    assert not guard.foreign, f"the page made requests to other hosts: {guard.foreign}"


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("playground-shots")


def screenshot(page: Any, shots: Path, name: str) -> None:
    """``name``-desktop.png at 1280 px and ``name``-phone.png at 375 px (full page), then back."""
    for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        page.evaluate("window.scrollTo(0, 0)")  # a sticky header stays where the page was scrolled to
        page.wait_for_timeout(150)
        path = shots / f"{name}-{label}.png"
        page.screenshot(path=str(path), full_page=True)
        target = os.environ.get("SEQEDIT_SHOTS_DIR")
        if target:
            Path(target).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(target) / path.name)
    page.set_viewport_size(DESKTOP)
