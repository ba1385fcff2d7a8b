"""The admin console at ``/admin``: courses, publishing, subscribers, review, dashboard."""

from dripper.admin import (  # noqa: F401 - the views register themselves on bp
    auth,
    courses,
    overview,
    subscribers,
)
from dripper.admin.blueprint import bp

__all__ = ["bp"]
