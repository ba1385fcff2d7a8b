"""The sandbox: tools for demos and tests, only served with DRIPPER_SANDBOX=1."""

from dripper.sandbox import phone_routes, routes  # noqa: F401 - registers the views on bp
from dripper.sandbox.blueprint import bp

__all__ = ["bp"]
