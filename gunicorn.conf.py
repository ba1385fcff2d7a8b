"""gunicorn's settings beside the command line (gunicorn reads ./gunicorn.conf.py itself).

Each worker, once it has loaded the app, reads the reply model the first text would
otherwise wait for, then freezes what it loaded: it lives as long as the process, and
Python's full collections walk every object they track (about 200,000 here, 100 ms a
walk). Frozen, those are never walked again, so a full collection no longer stalls the
requests waiting behind it.
"""

from __future__ import annotations

import gc
import logging
from typing import Any


def post_worker_init(worker: Any) -> None:
    """After a worker loaded the app: read the reply model, then freeze the heap."""
    app = worker.wsgi
    if getattr(app, "name", None) == "dripper":
        _load_reply_model(app)
    gc.freeze()


def _load_reply_model(app: Any) -> None:
    try:
        from dripper.readiness.service import get_classifier

        with app.app_context():
            get_classifier()
    except Exception as error:  # noqa: BLE001 - the first text that needs it tries again
        logging.getLogger("gunicorn.error").warning(
            "reply model not loaded at start: %s", type(error).__name__
        )
