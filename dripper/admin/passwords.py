"""Admin passwords: argon2id (argon2-cffi); older werkzeug hashes still verify and are
upgraded on the next sign-in."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from werkzeug.security import check_password_hash

_hasher = PasswordHasher()
#: Verified against when the email is unknown, so both wrong answers take as long.
_DUMMY = _hasher.hash("not a password anyone has")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored``; with no stored hash, spends the same time."""
    if stored is None:
        try:
            _hasher.verify(_DUMMY, password + "x")
        except VerificationError:
            pass
        return False
    if stored.startswith("$argon2"):
        try:
            return _hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
    # A werkzeug (scrypt/pbkdf2) hash from before argon2.
    return check_password_hash(stored, password)


def needs_rehash(stored: str) -> bool:
    return not stored.startswith("$argon2") or _hasher.check_needs_rehash(stored)
