"""tests/twilio_fake.py as a process of its own, for the bench: prints its settings, serves."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

# Its handler turns Nagle's algorithm off: the headers and body go out in two sends, and
# the body would otherwise wait for the client's delayed ACK (~40 ms a request).
from twilio_fake import FakeTwilio


def main() -> None:
    fake = FakeTwilio().start()
    print(json.dumps(fake.settings()), flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    fake.stop()


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    main()
