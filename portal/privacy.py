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
