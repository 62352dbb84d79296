"""Keys that stand for a person without storing who they are.

No raw IP address is stored anywhere; rate limits key on a keyed hash of the address,
so the limiter's storage (memory or Redis) never holds an address either.
"""
import hashlib
import hmac

from flask import current_app, request


def keyed_hash(value: str, purpose: str) -> str:
    """An HMAC of ``value`` under the app secret, separated by ``purpose``."""
    key = f"{purpose}:{current_app.config['SECRET_KEY']}".encode()
    return hmac.new(key, value.encode("utf-8", "replace"), hashlib.sha256).hexdigest()[:32]


def hashed_client_address() -> str:
    """The rate-limit key of the current request: a keyed hash of the client address."""
    return keyed_hash(request.remote_addr or "unknown", "ratelimit")


def account_or_address() -> str:
    """The rate-limit key of a request that is about an account (uploads): the signed-in
    account's id, so one account cannot spread its uploads over addresses; else the
    hashed address."""
    from flask_login import current_user

    if current_user and current_user.is_authenticated:
        return f"account:{current_user.id}"
    return hashed_client_address()


def sends_a_file() -> bool:
    """Whether the request carries a file: only those count against the upload limit."""
    return any(upload.filename for upload in request.files.values())


def upload_rate_limit() -> str:
    return current_app.config["UPLOAD_RATE_LIMIT"]
