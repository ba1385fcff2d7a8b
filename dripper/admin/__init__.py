"""The admin console at ``/admin``: courses, publishing, subscribers, review, dashboard."""

from flask import Blueprint

bp = Blueprint(
    "admin",
    __name__,
    url_prefix="/admin",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

from dripper.admin import (  # noqa: E402,F401 - the views register themselves on bp
    auth,
    courses,
    overview,
    subscribers,
)
