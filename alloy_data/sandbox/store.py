"""Users and their credentials, in memory."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from alloy_data.sandbox.ids import IdFactory


def now_iso() -> str:
    """Return the current UTC time as ISO-8601 with a ``Z``."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class User:
    """An end user of the embedding product."""

    user_id: str
    username: str
    full_name: str | None
    created_at: str = field(default_factory=now_iso)

    def summary(self) -> dict[str, Any]:
        """Return the live API's user listing entry ``{userId, username, fullName}``."""
        return {"userId": self.user_id, "username": self.username, "fullName": self.full_name}


@dataclass
class Credential:
    """A user's credential (connection) to one connector."""

    credential_id: str
    connector_id: str
    user_id: str
    auth_type: str
    name: str
    created_at: str = field(default_factory=now_iso)

    def seed_json(self) -> dict[str, Any]:
        """Return the contract's Credential."""
        return {
            "credentialId": self.credential_id,
            "connectorId": self.connector_id,
            "userId": self.user_id,
            "createdAt": self.created_at,
        }

    def live_json(self) -> dict[str, Any]:
        """Return the live API's credential listing entry."""
        return {
            "credentialId": self.credential_id,
            "name": self.name,
            "type": f"{self.connector_id}-{self.auth_type.replace('_', '-')}",
            "createdAt": self.created_at,
            "updatedAt": self.created_at,
        }


@dataclass
class PendingOAuth:
    """A credential waiting for its OAuth consent page to be visited."""

    connector_id: str
    user_id: str
    auth_type: str
    name: str
    redirect_uri: str | None
    credential_id: str | None = None


class Store:
    """Users, credentials and pending OAuth grants; safe to use from several threads."""

    def __init__(self, ids: IdFactory) -> None:
        self._ids = ids
        self._lock = threading.Lock()
        self.users: dict[str, User] = {}
        self.credentials: dict[str, Credential] = {}
        # A user's credentials by id, so listing them does not scan every tenant's.
        self._by_user: dict[str, dict[str, Credential]] = {}
        self._pending: dict[str, PendingOAuth] = {}

    def add_user(self, username: str, full_name: str | None = None) -> User:
        """Create and return a user."""
        user = User(self._ids.new("usr"), username, full_name)
        with self._lock:
            self.users[user.user_id] = user
        return user

    def add_credential(
        self, connector_id: str, user_id: str, auth_type: str, name: str
    ) -> Credential:
        """Create and return a credential owned by ``user_id``."""
        credential = Credential(self._ids.new("cred"), connector_id, user_id, auth_type, name)
        with self._lock:
            self.credentials[credential.credential_id] = credential
            self._by_user.setdefault(user_id, {})[credential.credential_id] = credential
        return credential

    def credentials_of(self, user_id: str, connector_id: str | None = None) -> list[Credential]:
        """Return ``user_id``'s credentials, optionally for one connector only."""
        with self._lock:
            return [
                credential
                for credential in self._by_user.get(user_id, {}).values()
                if connector_id is None or credential.connector_id == connector_id
            ]

    def delete_credential(self, credential_id: str) -> None:
        """Forget a credential."""
        with self._lock:
            credential = self.credentials.pop(credential_id, None)
            if credential is not None:
                self._by_user.get(credential.user_id, {}).pop(credential_id, None)

    def start_oauth(self, grant: PendingOAuth) -> str:
        """Remember ``grant`` and return the ``state`` that completes it."""
        state = secrets.token_urlsafe(16)
        with self._lock:
            self._pending[state] = grant
        return state

    def finish_oauth(self, state: str) -> Credential | None:
        """Create the credential of a pending grant (once; later visits return the same one)."""
        with self._lock:
            grant = self._pending.get(state)
        if grant is None:
            return None
        if grant.credential_id is None:
            created = self.add_credential(
                grant.connector_id, grant.user_id, grant.auth_type, grant.name
            )
            grant.credential_id = created.credential_id
        with self._lock:
            return self.credentials.get(grant.credential_id)

    def redirect_uri(self, state: str) -> str | None:
        """Return where a pending grant sends the browser afterwards, if anywhere."""
        with self._lock:
            grant = self._pending.get(state)
        return grant.redirect_uri if grant else None
