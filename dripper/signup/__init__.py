"""The public landing page and web signup form (double opt-in by SMS)."""

from dripper.signup import routes  # noqa: F401 - registers the views on bp
from dripper.signup.blueprint import bp

__all__ = ["bp"]
