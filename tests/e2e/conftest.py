"""Browser tests: the app served on a free port and Debian's chromium driven by Playwright for Python."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).parent / "screenshots"
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "zh-CN",
}


@pytest.fixture
def live_server(app):
    wsgi = app
    if "SESSION_FACTORY" in app.config:
        # The app shares one savepoint connection with the test (tests/conftest.py): two requests at once
        # (a page and its polling script) would nest savepoints on it from two threads and break each
        # other. One request at a time, its whole body produced under the lock. Apps of tests marked
        # `commits` have connections of their own and stay concurrent.
        lock = threading.Lock()

        def wsgi(environ, start_response):
            with lock:
                body = app(environ, start_response)
                try:
                    return [b"".join(body)]
                finally:
                    if hasattr(body, "close"):
                        body.close()

    server = make_server("127.0.0.1", 0, wsgi, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture
def browser():
    if not shutil.which(CHROMIUM):
        # Skipped with the reason on a machine without it; CI installs it and turns any skip into a failure.
        pytest.skip("browser tests need Debian's chromium at /usr/bin/chromium: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def sign_in_in_browser(page, live_server, district_id: int, mobile: str, password: str) -> None:
    page.goto(f"{live_server}/signin")
    if page.locator("select[name=district]").count():  # the test database holds many districts
        page.select_option("select[name=district]", str(district_id))
    page.fill("input[name=mobile]", mobile)
    page.fill("input[name=password]", password)
    page.click("main button[type=submit]")
    page.wait_for_load_state()
    assert page.url == f"{live_server}/", page.inner_text("main")
