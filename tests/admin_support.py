"""Helpers for the admin console tests: signing in, CSRF tokens from pages.

Admins come from dripper_testkit.builders.make_admin."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from dripper_testkit.builders import PASSWORD


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD) -> int:
    """Sign in through the form (with its CSRF token when CSRF is on); returns the status."""
    page = client.get("/admin/login").get_data(as_text=True)
    data = {"email": email, "password": password}
    token = csrf_from(page)
    if token:
        data["csrf_token"] = token
    return client.post("/admin/login", data=data).status_code


def csrf_from(page: str) -> str | None:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf-token" content="([^"]+)"', page
    )
    return match.group(1) if match else None
