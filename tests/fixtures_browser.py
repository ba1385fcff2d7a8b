"""A real browser against the app served by a real server thread.

``live_server``: the test's app served by werkzeug on a free loopback port.
``browser``: headless Debian chromium through /usr/bin/chromedriver (never downloaded;
skipped with a message where chromium is missing). Screenshots go to
``$TEST_ARTIFACTS_DIR`` (default tests/artifacts/).
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

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = Path(
    os.environ.get("TEST_ARTIFACTS_DIR")
    or os.environ.get("BROWSER_ARTIFACTS")
    or Path(__file__).parent / "artifacts"
)


class LiveServer:
    """A werkzeug server thread serving one app; ``url`` is its base URL."""

    def __init__(self, app: Flask) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)


@pytest.fixture
def live_server(app: Flask) -> Iterator[LiveServer]:
    """The test's app (its database and config) on http://127.0.0.1:<free port>."""
    server = LiveServer(app).start()
    yield server
    server.stop()


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless chromium driven by Selenium, phone-sized by default."""
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.skip(
            f"browser tests need {CHROMIUM} and {CHROMEDRIVER} (apt-get install chromium chromium-driver)"
        )
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must never download
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--window-size=1100,1400", "--disable-gpu"):  # fmt: skip
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.implicitly_wait(3)
    yield driver
    driver.quit()


def screenshot(driver: Any, name: str) -> Path:
    """Save a screenshot as a test artefact; returns its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path
