"""Fixtures for real-browser tests (a pytest plugin, see conftest.py).

``live_server`` serves the test's ``app`` from a real WSGI server on a free loopback
port, in a thread; ``browser`` is Debian's headless Chromium driven by Selenium through
``/usr/bin/chromedriver`` (Selenium Manager never downloads anything). Tests that need
them are skipped, with the reason, where Chromium is not installed. Screenshots go to
``$BROWSER_ARTIFACTS`` (default ``tests/artifacts/``, git-ignored).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(os.environ.get("BROWSER_ARTIFACTS") or Path(__file__).parent / "artifacts")


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The app served over HTTP on 127.0.0.1 (threaded, like a real server); its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Chromium (1280×900) through chromedriver; skipped where it is missing."""
    if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
        pytest.skip(
            f"real-browser test: needs {CHROMIUM} and {CHROMEDRIVER} (apt-get install chromium chromium-driver)"
        )
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager fetch a driver
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,900",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver: Any, name: str) -> Path:
    """Save what the browser shows as ``<artifacts>/<name>.png``; returns the path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path
