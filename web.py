"""The web process: ``flask --app web run`` in development, ``gunicorn web:app`` in production."""

import gc
import logging

from dripper import create_app
from dripper.readiness.service import get_classifier

app = create_app()

# The reply model is read by the first text that needs it; reading it now spares that text
# the wait. Not fatal: a database not migrated yet (or a missing model file that cannot be
# trained) is the first text's problem, and it is logged there too.
with app.app_context():
    try:
        get_classifier()
    except Exception as error:  # noqa: BLE001 - the process must still start
        logging.getLogger(__name__).warning(
            "reply model not loaded at start: %s", type(error).__name__
        )

# What is loaded now lives as long as the process. Python's full collections walk every
# object they track (about 200,000 here, 100 ms a walk); frozen, these are never walked
# again, so a full collection no longer stalls the requests waiting behind it.
gc.freeze()
