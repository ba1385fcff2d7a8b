"""Fixtures for the sending side: the fake Twilio server (registered from conftest.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis as redis_lib

from dripper_testkit.twilio_fake import FakeTwilio

#: The sending tests' own Redis database: the limiter's timing and the send locks must
#: not be flushed or shared by another test session running on the same machine.
SMS_REDIS_URL = os.environ.get("TEST_SMS_REDIS_URL", "redis://127.0.0.1:6379/13")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sms_settings(**settings): extra app settings for a sending test"
    )


@pytest.fixture(scope="session")
def _twilio_server_session() -> Iterator[FakeTwilio]:
    fake = FakeTwilio().start()
    yield fake
    fake.stop()


@pytest.fixture
def twilio_server(_twilio_server_session: FakeTwilio) -> Iterator[FakeTwilio]:
    """A local Twilio-compatible API (see dripper_testkit/twilio_fake.py), empty for each test.

    Point an app at it with ``make_config(..., **twilio_server.settings())``.
    """
    _twilio_server_session.reset()
    yield _twilio_server_session
    _twilio_server_session.reset()


@pytest.fixture
def sms_redis() -> Iterator[redis_lib.Redis]:
    """Real Redis on the sending tests' own database, emptied before and after."""
    client = redis_lib.Redis.from_url(SMS_REDIS_URL)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()
