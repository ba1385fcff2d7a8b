"""tests/unit's rule is enforced: a network socket cannot be opened here (tests/unit_rule.py)."""

from __future__ import annotations

import socket

import pytest
from unit_rule import FORBIDDEN_FIXTURES, NetworkUsedInUnitTest


def test_connecting_a_network_socket_fails_the_test() -> None:
    with pytest.raises(NetworkUsedInUnitTest, match="tests/unit"):
        socket.create_connection(("127.0.0.1", 9), timeout=0.1)


def test_binding_a_network_socket_fails_the_test() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        with pytest.raises(NetworkUsedInUnitTest):
            listener.bind(("127.0.0.1", 0))


def test_the_app_its_database_and_redis_are_forbidden_fixtures() -> None:
    assert {"app", "database", "redis_client", "sms_redis", "twilio_server"} <= FORBIDDEN_FIXTURES
