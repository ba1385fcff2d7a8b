"""Signing in and out, and the role checks every other console view goes through.

Sign-in attempts are limited per address (every attempt counts) and per account
(failed attempts count), in Redis through Flask-Limiter. A wrong email and a wrong
password get the same answer in about the same time (an unknown email is checked
against a dummy argon2 hash).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import (
    Response,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_limiter import RequestLimit
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from dripper.admin.blueprint import bp
from dripper.admin.forms import LoginForm, PlainForm
from dripper.admin.passwords import hash_password, needs_rehash, verify
from dripper.clock import now
from dripper.extensions import db, limiter
from dripper.extensions import login as login_manager
from dripper.models import Admin, AuditEntry

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
ROLES = ("editor", "owner")
WRONG = "That email and password do not match an admin."


@login_manager.user_loader
def load_admin(admin_id: str) -> Admin | None:
    """The signed-in admin for Flask-Login, or None (a deleted admin is signed out)."""
    try:
        return db.session.get(Admin, int(admin_id))
    except ValueError:
        return None


def admin_required(role: str = "editor") -> Callable[[F], F]:
    """A view for signed-in admins with at least ``role`` (owner includes editor)."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return redirect(url_for("admin.login", next=request.full_path.rstrip("?")))
            if role == "owner" and not current_user.is_owner:
                abort(403)
            return view(*args, **kwargs)

        return cast(F, wrapped)

    return decorate


def me() -> Admin:
    """The signed-in admin (inside a view guarded by ``admin_required``)."""
    return cast(Admin, current_user._get_current_object())


def audit(action: str, target: str, before: Any = None, after: Any = None, **extra: Any) -> None:
    """Log an admin's change: who, when, before and after."""
    admin = me()
    db.session.add(
        AuditEntry(
            admin_id=admin.id,
            actor=admin.email,
            action=action,
            target=target,
            detail={"before": before, "after": after, **extra},
            created_at=now(),
        )
    )


def _account_key() -> str:
    """The per-account limit's key: a keyed hash of the email as typed (normalised)."""
    email = request.form.get("email", "").strip().lower()
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return "admin-login:" + hmac.new(secret, email.encode(), hashlib.sha256).hexdigest()[:32]


def _failed(response: Response) -> bool:
    return response.status_code != 303


def _too_many(limit: RequestLimit) -> Response:
    log.info("admin sign-in refused: too many attempts")
    form = LoginForm(formdata=None)
    page = render_template(
        "admin/login.html",
        form=form,
        error="Too many attempts. Please wait a few minutes and try again.",
    )
    return make_response(page, 429)


def _safe_next(target: str | None) -> str:
    # Only a path inside the console: never an absolute URL someone else chose.
    if target and target.startswith("/admin") and not target.startswith("//"):
        return target
    return url_for("admin.home")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["ADMIN_LOGIN_IP_LIMIT"],
    key_func=get_remote_address,
    methods=["POST"],
    on_breach=_too_many,
)
@limiter.limit(
    lambda: current_app.config["ADMIN_LOGIN_ACCOUNT_LIMIT"],
    key_func=_account_key,
    methods=["POST"],
    deduct_when=_failed,
    on_breach=_too_many,
)
def login() -> ResponseReturnValue:
    """The sign-in form; the same answer for an unknown email and a wrong password."""
    form = LoginForm()
    if request.method == "GET":
        return render_template("admin/login.html", form=form, error=None)
    if not form.validate_on_submit():
        return render_template("admin/login.html", form=form, error=WRONG), 400
    email = form.email.data.strip().lower()
    admin = db.session.scalar(select(Admin).where(Admin.email == email))
    if not verify(admin.password_hash if admin else None, form.password.data):
        log.info("admin sign-in failed")
        return render_template("admin/login.html", form=form, error=WRONG), 401
    assert admin is not None
    if needs_rehash(admin.password_hash):
        admin.password_hash = hash_password(form.password.data)
    admin.last_login_at = now()
    session.clear()  # a fresh session: nothing from before sign-in carries over
    login_user(admin)
    db.session.commit()
    return redirect(_safe_next(request.args.get("next")), code=303)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """Sign out (a POST with the CSRF token, so no other site can sign anyone out)."""
    if not PlainForm().validate_on_submit():
        abort(400)
    logout_user()
    session.clear()
    flash("Signed out.")
    return redirect(url_for("admin.login"), code=303)


@bp.get("/")
@admin_required()
def home() -> ResponseReturnValue:
    """The console's front page: owners see the dashboard, editors the courses."""
    return redirect(url_for("admin.dashboard" if me().is_owner else "admin.course_list"))


@bp.get("/admins")
@admin_required("owner")
def admins() -> ResponseReturnValue:
    """Owners: the admins and their roles."""
    people = db.session.scalars(select(Admin).order_by(Admin.email))
    return render_template("admin/admins.html", admins=list(people), roles=ROLES, form=PlainForm())


@bp.post("/admins/<int:admin_id>/role")
@admin_required("owner")
def admin_role(admin_id: int) -> ResponseReturnValue:
    """Owners: change an admin's role (not their own, so an owner always remains)."""
    form = PlainForm()
    role = request.form.get("role", "")
    admin = db.session.get(Admin, admin_id)
    if not form.validate_on_submit() or admin is None or role not in ROLES:
        abort(400)
    if admin.id == me().id:
        flash("You cannot change your own role.")
        return redirect(url_for("admin.admins"), code=303)
    audit("admin.role", f"admin:{admin.email}", admin.role, role)
    admin.role = role
    db.session.commit()
    flash(f"{admin.email} is now {role}.")
    return redirect(url_for("admin.admins"), code=303)


@bp.errorhandler(403)
def forbidden(error: Exception) -> ResponseReturnValue:
    """An editor on an owner's page: a plain page saying so, status 403."""
    return render_template("admin/error.html", message="Only an owner can open this page."), 403
