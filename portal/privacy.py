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
    """The rate-limit key of what one account does (downloads, uploads): the account the
    session names (a keyed hash of its id), so a limit follows one account across
    addresses; the hashed address without one."""
    from flask import session

    from portal.auth.sessions import SessionId

    session_id = SessionId.parse(session.get("_user_id"))
    if session_id is None:
        return hashed_client_address()
    return keyed_hash(f"account:{session_id.account_id}", "ratelimit")


def download_rate_limit() -> str:
    """PORTAL_DOWNLOAD_RATE_LIMIT, read per request (the load test raises it)."""
    return current_app.config["DOWNLOAD_RATE_LIMIT"]


def qr_scan_limit() -> str:
    return current_app.config["QR_SCAN_LIMIT"]


def sends_a_file() -> bool:
    """Whether the request carries a file: only those count against the upload limit."""
    return any(upload.filename for upload in request.files.values())


def upload_rate_limit() -> str:
    return current_app.config["UPLOAD_RATE_LIMIT"]
