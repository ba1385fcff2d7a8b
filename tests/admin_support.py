"""Helpers for the admin console tests: admins, signing in, CSRF tokens from pages."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from dripper.admin.passwords import hash_password
from dripper.extensions import db
from dripper.models import Admin

PASSWORD = "correct horse battery staple"


def make_admin(email: str = "owner@example.org", role: str = "owner") -> Admin:
    admin = Admin(email=email, password_hash=hash_password(PASSWORD), role=role)
    db.session.add(admin)
    db.session.commit()
    return admin


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
