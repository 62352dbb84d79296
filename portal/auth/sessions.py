"""What a signed-in session names, and the checks that decide whether it still stands.

Flask-Login keeps ``Account.get_id()`` in the session: "<account id>:<session
version>:<account nonce>". A raised version (password changed, account suspended) ends
every session made before it, and a deleted account's sessions fit no other account.
The app's user loader applies ``session_stands``.
"""
from __future__ import annotations

import re
from typing import NamedTuple

from portal.models import Account

_NUMBER = re.compile(r"0|[1-9][0-9]{0,17}")  # as get_id() writes a number (no "07", no "²")


class SessionId(NamedTuple):
    account_id: int
    version: int
    nonce: str

    @classmethod
    def parse(cls, value) -> SessionId | None:
        """The parts of a session id, or ``None`` for anything else."""
        parts = str(value or "").split(":")
        if len(parts) != 3 or not all(_NUMBER.fullmatch(part) for part in parts[:2]):
            return None
        return cls(int(parts[0]), int(parts[1]), parts[2])


def session_stands(account: Account | None, session_id: SessionId) -> bool:
    """The account the session names, with the same version and nonce, not suspended."""
    return (account is not None and account.id == session_id.account_id
            and account.session_version == session_id.version
            and account.session_nonce == session_id.nonce and account.is_active)
