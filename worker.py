"""The worker and beat processes: ``celery -A worker worker`` and ``celery -A worker beat``."""

from dripper import create_app

celery = create_app().extensions["celery"]
