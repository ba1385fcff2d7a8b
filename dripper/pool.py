"""Checking a pooled database connection before use, only when it may have gone stale.

SQLAlchemy's ``pool_pre_ping`` pings the database every time a connection leaves the pool:
one round trip more on every request, which on the inbound webhook (one INSERT) is a third
of its database work. A connection that was in use a moment ago cannot have been dropped
unnoticed for long, so it is pinged only after it sat in the pool for ``IDLE_PING_AFTER``
seconds; a fresh one never (it was just opened).

What that leaves: a database that restarts within that second, between a connection's
last use and its next. The next statement on it fails as a disconnect, SQLAlchemy then
discards every connection of the pool opened before it, and the request answers an error
(Twilio retries a webhook; a task is retried or swept). docs/RELIABILITY.md.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, event, exc

#: Seconds a connection may rest in the pool and still be handed out without a ping.
IDLE_PING_AFTER = 1.0

_RETURNED_AT = "dripper.returned_at"


def ping_when_idle(engine: Engine, after: float = IDLE_PING_AFTER) -> None:
    """Ping a connection leaving ``engine``'s pool when it rested there over ``after`` seconds;
    a failed ping that is a disconnect makes the pool open a new connection instead."""

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned_at = record.info.get(_RETURNED_AT)
        if returned_at is None or time.monotonic() - returned_at <= after:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            if engine.dialect.is_disconnect(error, dbapi_connection, None):
                # The pool's documented answer: drop this one and connect again.
                raise exc.DisconnectionError() from error
            raise
