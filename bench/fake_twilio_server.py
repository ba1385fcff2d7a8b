"""tests/twilio_fake.py as a process of its own, for the bench: prints its settings, serves."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import twilio_fake
from twilio_fake import FakeTwilio

# The handler writes headers and body in two sends; with Nagle's algorithm on, the body
# waits for the client's delayed ACK (~40 ms a request on a kept-alive connection),
# which would measure TCP, not the code.
twilio_fake._Handler.disable_nagle_algorithm = True


def main() -> None:
    fake = FakeTwilio().start()
    print(json.dumps(fake.settings()), flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    fake.stop()


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    main()
