"""Accounts, roles and sessions of the web app (issue 14 item 8).

Users live beside the data they may see: in a GeoPackage workspace as the SQLite table
``pianqu_user`` (not registered in ``gpkg_contents``, so it is no layer), in a PostGIS database
as ``pianqu.pianqu_user`` (one shared schema for every county schema of the database).
Passwords are argon2 hashes. Roles and what they may do:

- ``admin``: read and edit every county, manage users;
- ``province``: read every county (a provincial supervisor);
- ``city``: read the counties whose code starts with its 4-digit scope (地级市);
- ``county_planner``: read and edit its county (6-digit scope);
- ``county_viewer``: read its county.

Sessions are random tokens in memory (a restart logs everyone out), sent as an HttpOnly
SameSite=Strict cookie; every unsafe request carries the session's CSRF token in a header.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError, VerificationError

from pianqu.errors import PianquError

ROLES = ("admin", "province", "city", "county_planner", "county_viewer")
USER_TABLE = "pianqu_user"
USER_SCHEMA = "pianqu"
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
COLUMNS = ["username", "password_hash", "role", "scope", "disabled", "created"]

_HASHER = PasswordHasher()


class UserError(PianquError, ValueError):
    """A user that cannot be added or changed (``web.user.*`` messages)."""


@dataclass(frozen=True)
class User:
    username: str
    role: str
    scope: str = ""
    disabled: bool = False

    def can_read(self, county: str) -> bool:
        """Whether this user may see anything of ``county`` (6-digit code)."""
        if self.disabled:
            return False
        if self.role in ("admin", "province"):
            return True
        if self.role == "city":
            return bool(self.scope) and county.startswith(self.scope)
        return county == self.scope

    def can_edit(self, county: str) -> bool:
        """Whether this user may change ``county``'s plan (zones, conflict decisions)."""
        return not self.disabled and (self.role == "admin" or (self.role == "county_planner" and county == self.scope))


def check_user(username: str, role: str, scope: str) -> None:
    """Refuse a bad user name, role or scope (a county role needs a 6-digit code, a city 4 digits)."""
    if not USERNAME_RE.match(username or ""):
        raise UserError("web.user.bad_name", username=username)
    if role not in ROLES:
        raise UserError("web.user.bad_role", role=role, roles=", ".join(ROLES))
    need = {"city": 4, "county_planner": 6, "county_viewer": 6}.get(role)
    if need and not re.fullmatch(rf"\d{{{need}}}", scope or ""):
        raise UserError("web.user.bad_scope", role=role, scope=scope, digits=need)


def hash_password(password: str) -> str:
    if len(password or "") < 8:
        raise UserError("web.user.short_password", n=8)
    return _HASHER.hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# -- stores ------------------------------------------------------------------------------------

class SqliteUsers:
    """Users in the GeoPackage file itself (table ``pianqu_user``, not a layer)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def _con(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=30)
        con.execute(f"CREATE TABLE IF NOT EXISTS {USER_TABLE} (username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, "
                    "role TEXT NOT NULL, scope TEXT NOT NULL DEFAULT '', disabled INTEGER NOT NULL DEFAULT 0, "
                    "created TEXT NOT NULL)")
        return con

    def rows(self) -> list[tuple]:
        con = self._con()
        try:
            return con.execute(f"SELECT {', '.join(COLUMNS)} FROM {USER_TABLE} ORDER BY username").fetchall()
        finally:
            con.close()

    def upsert(self, row: tuple) -> None:
        con = self._con()
        try:
            with con:
                con.execute(f"INSERT OR REPLACE INTO {USER_TABLE} ({', '.join(COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?)", row)
        finally:
            con.close()

    def set_disabled(self, username: str, disabled: bool) -> int:
        con = self._con()
        try:
            with con:
                return con.execute(f"UPDATE {USER_TABLE} SET disabled = ? WHERE username = ?",
                                   (int(disabled), username)).rowcount
        finally:
            con.close()


class PgUsers:
    """Users of a PostGIS database: ``pianqu.pianqu_user``, shared by every county schema."""

    def __init__(self, conninfo: str):
        self.conninfo = conninfo

    def _con(self):
        import psycopg

        con = psycopg.connect(self.conninfo, autocommit=True, connect_timeout=10, application_name="pianqu web")
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {USER_SCHEMA}")
        con.execute(f"CREATE TABLE IF NOT EXISTS {USER_SCHEMA}.{USER_TABLE} (username text PRIMARY KEY, "
                    "password_hash text NOT NULL, role text NOT NULL, scope text NOT NULL DEFAULT '', "
                    "disabled boolean NOT NULL DEFAULT false, created text NOT NULL)")
        return con

    def rows(self) -> list[tuple]:
        with self._con() as con:
            return con.execute(f"SELECT {', '.join(COLUMNS)} FROM {USER_SCHEMA}.{USER_TABLE} ORDER BY username").fetchall()

    def upsert(self, row: tuple) -> None:
        with self._con() as con:
            con.execute(f"INSERT INTO {USER_SCHEMA}.{USER_TABLE} ({', '.join(COLUMNS)}) VALUES (%s, %s, %s, %s, %s, %s) "
                        "ON CONFLICT (username) DO UPDATE SET password_hash = EXCLUDED.password_hash, "
                        "role = EXCLUDED.role, scope = EXCLUDED.scope, disabled = EXCLUDED.disabled",
                        [row[0], row[1], row[2], row[3], bool(row[4]), row[5]])

    def set_disabled(self, username: str, disabled: bool) -> int:
        with self._con() as con:
            return con.execute(f"UPDATE {USER_SCHEMA}.{USER_TABLE} SET disabled = %s WHERE username = %s",
                               [disabled, username]).rowcount


def user_store(target: str | Path) -> SqliteUsers | PgUsers:
    """The users store of a workspace file or a ``postgresql://`` URL (the database's)."""
    from pianqu.store.postgis import is_db_url, split_url

    if is_db_url(target):
        return PgUsers(split_url(str(target))[0])
    return SqliteUsers(target)


def add_user(store, username: str, password: str, role: str, scope: str = "") -> None:
    """Add a user (or reset an existing user's password, role and scope, enabling it)."""
    check_user(username, role, scope)
    from pianqu.workspace.base import now_iso

    store.upsert((username, hash_password(password), role, scope or "", 0, now_iso()))


def list_users(store) -> pd.DataFrame:
    """The users, without their hashes."""
    frame = pd.DataFrame(store.rows(), columns=COLUMNS).drop(columns=["password_hash"])
    frame["disabled"] = frame["disabled"].astype(bool)
    return frame


def disable_user(store, username: str, disabled: bool = True) -> None:
    if not store.set_disabled(username, disabled):
        raise UserError("web.user.unknown", username=username)


def authenticate(store, username: str, password: str) -> User | None:
    """The user when the password is right and the account enabled; None otherwise (the same
    answer for an unknown name, a wrong password and a disabled account)."""
    for name, stored, role, scope, disabled, _ in store.rows():
        if name == username:
            if verify_password(stored, password) and not disabled:
                return User(name, role, scope or "", bool(disabled))
            return None
    verify_password(_DUMMY, password)  # the same time for an unknown name
    return None


_DUMMY = _HASHER.hash("not a password of anyone")


# -- sessions, CSRF, login rate limit ------------------------------------------------------------

@dataclass
class Session:
    user: User
    csrf: str
    expires: float


@dataclass
class Sessions:
    """Live sessions by cookie token, one-time local tokens, failed logins by key."""

    ttl_s: float
    max_failures: int
    window_s: float
    _sessions: dict[str, Session] = field(default_factory=dict)
    _once: dict[str, User] = field(default_factory=dict)
    _failures: dict[str, list[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def open(self, user: User) -> tuple[str, Session]:
        token = secrets.token_urlsafe(32)
        session = Session(user, secrets.token_urlsafe(24), time.time() + self.ttl_s)
        with self._lock:
            self._sessions[token] = session
        return token, session

    def get(self, token: str | None) -> Session | None:
        if not token:
            return None
        with self._lock:
            session = self._sessions.get(token)
            if session is not None and session.expires < time.time():
                del self._sessions[token]
                return None
            return session

    def close(self, token: str | None) -> None:
        with self._lock:
            self._sessions.pop(token or "", None)

    def close_user(self, username: str) -> None:
        with self._lock:
            for token in [k for k, s in self._sessions.items() if s.user.username == username]:
                del self._sessions[token]

    def one_time(self, user: User) -> str:
        """A token that opens one session (the local mode's URL, like a notebook server's)."""
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._once[token] = user
        return token

    def redeem(self, token: str) -> User | None:
        with self._lock:
            return self._once.pop(token, None)

    def limited(self, key: str) -> bool:
        """Whether ``key`` (client address + user name) failed too often within the window."""
        now = time.time()
        with self._lock:
            recent = [t for t in self._failures.get(key, []) if now - t < self.window_s]
            self._failures[key] = recent
            return len(recent) >= self.max_failures

    def failed(self, key: str) -> None:
        with self._lock:
            self._failures.setdefault(key, []).append(time.time())
