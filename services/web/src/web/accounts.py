"""Operator accounts: who may log in to the counter console, with which role, at which site.

Passwords are kept only as argon2id hashes. `python -m web.accounts hash` prints the hash of a password read
from standard input, for the ACCOUNTS setting.
"""

from __future__ import annotations

import json
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from web.domain import ROLES, Role
from web.settings import WebSettings

_hasher = PasswordHasher()  # argon2id with the library's current parameters (RFC 9106 low-memory profile)


@dataclass(frozen=True)
class Account:
    username: str
    name: str  # shown and recorded with each change the operator makes
    role: Role
    site: str
    password_hash: str


def hash_password(password: str) -> str:
    return _hasher.hash(password)


# A username that does not exist costs the same verification as one that does: timing tells nothing.
_NOBODY = hash_password("no account has this password")


def parse_accounts(text: str) -> dict[str, Account]:
    """username -> account, from the JSON list of ACCOUNTS (or its file); a malformed entry stops the start."""
    if not text.strip():
        return {}
    entries: list[dict[str, Any]] = json.loads(text)
    found: dict[str, Account] = {}
    for entry in entries:
        role = entry.get("role", "operator")
        if role not in ROLES:
            raise ValueError(f"account {entry.get('username')!r}: role must be one of {ROLES}")
        account = Account(
            username=str(entry["username"]).strip().lower(),
            name=str(entry.get("name") or entry["username"]),
            role=role,
            site=str(entry["site"]),
            password_hash=str(entry["password_hash"]),
        )
        found[account.username] = account
    return found


def load_accounts(settings: WebSettings) -> dict[str, Account]:
    text = settings.accounts.get_secret_value()
    if settings.accounts_file is not None:
        text = settings.accounts_file.read_text(encoding="utf-8")
    return parse_accounts(text)


def authenticate(accounts: dict[str, Account], username: str, password: str) -> Account | None:
    account = accounts.get(username.strip().lower())
    try:
        _hasher.verify(account.password_hash if account else _NOBODY, password)
    except (VerificationError, InvalidHashError):
        return None
    return account


@dataclass
class LoginThrottle:
    """At most `attempts` failed logins per username in `window_s`; then that username waits. Per process: with
    several replicas an attacker gets that many tries per replica, still few against argon2."""

    attempts: int = 5
    window_s: float = 15 * 60
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def blocked(self, username: str, now: float | None = None) -> bool:
        return len(self._recent(username, now)) >= self.attempts

    def failed(self, username: str, now: float | None = None) -> None:
        moment = time.monotonic() if now is None else now
        self._failures[username.strip().lower()] = deque([*self._recent(username, moment), moment])

    def succeeded(self, username: str) -> None:
        self._failures.pop(username.strip().lower(), None)

    def _recent(self, username: str, now: float | None) -> deque[float]:
        """The username's failures within the window; a username without any is forgotten (guessed names do
        not grow the table)."""
        key, moment = username.strip().lower(), time.monotonic() if now is None else now
        recent = deque(t for t in self._failures.get(key, ()) if moment - t <= self.window_s)
        if recent:
            self._failures[key] = recent
        else:
            self._failures.pop(key, None)
        return recent


def main() -> None:
    if sys.argv[1:] != ["hash"]:
        print("usage: python -m web.accounts hash  (reads the password from standard input)", file=sys.stderr)
        raise SystemExit(2)
    print(hash_password(sys.stdin.readline().rstrip("\n")))


if __name__ == "__main__":
    main()
