"""Password hashing (Argon2id) and the strength rule shown next to the field."""
from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import lazy_gettext as _l

_hasher = PasswordHasher()
# Verified against when an email is unknown, so both answers take the same time.
_DUMMY_HASH = _hasher.hash("not a real password, only for equal timing")

MIN_LENGTH = 10
MAX_LENGTH = 200
COMMON = {
    "motdepasse", "password", "azertyuiop", "qwertyuiop", "1234567890", "0123456789",
    "motdepasse1", "password1", "password123", "bonjour123", "soleil1234", "iloveyou12",
    "quebec2024", "quebec2025", "quebec2026", "quebec2027", "montreal123", "abcdefghij",
}


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def password_problem(password: str, email: str = "") -> str | None:
    """Why a password is too weak, as a translated sentence; ``None`` if it is fine."""
    if len(password) < MIN_LENGTH:
        return _l("Use at least %(n)d characters.", n=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        return _l("Use at most %(n)d characters.", n=MAX_LENGTH)
    lowered = password.lower()
    if lowered in COMMON or len(set(password)) < 4:
        return _l("This password is too easy to guess: choose a longer, less common one.")
    local_part = email.split("@")[0].lower()
    if len(local_part) >= 4 and local_part in lowered:
        return _l("The password must not contain your email address.")
    return None
