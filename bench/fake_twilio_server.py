"""dripper_testkit/twilio_fake.py as a process of its own, for the bench: prints its settings, serves.

``fake_twilio_server.py [LATENCY]``: each message create is answered after LATENCY seconds
(default 0), as a real API's round trip would be.
"""

from __future__ import annotations

import json
import signal
import sys
import time

# Its handler turns Nagle's algorithm off: the headers and body go out in two sends, and
# the body would otherwise wait for the client's delayed ACK (~40 ms a request).
from dripper_testkit.twilio_fake import FakeTwilio


class SlowTwilio(FakeTwilio):
    """The fake, answering each create after ``latency`` seconds."""

    latency = 0.0

    def _create(self, handler, params):  # type: ignore[no-untyped-def]
        time.sleep(self.latency)
        return super()._create(handler, params)


def main() -> None:
    SlowTwilio.latency = float(sys.argv[1]) if len(sys.argv) > 1 else 0.0
    fake = SlowTwilio().start()
    print(json.dumps(fake.settings()), flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    fake.stop()


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    main()
