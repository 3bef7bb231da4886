"""Which credentials a pull of many credentials covers, and what it needs of its client."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from alloy_data.errors import ConfigurationError
from alloy_data.pull import PullClient

if TYPE_CHECKING:
    from alloy_data.models import Credential, User

__all__ = ["CredentialTarget", "ManyClient", "check_targets", "find_targets"]


class _Users(Protocol):
    def list(self) -> list[User]: ...


class _Credentials(Protocol):
    def list(self, connector_id: str, *, user_id: str) -> list[Credential]: ...


class ManyClient(PullClient, Protocol):
    """What a MultiPull needs of its client: a pull's needs, plus listing users and their
    credentials (for ``credentials="all"``)."""

    @property
    def users(self) -> _Users:
        """The client's users."""
        ...

    @property
    def credentials(self) -> _Credentials:
        """The client's credentials."""
        ...

    @property
    def user_id(self) -> str | None:
        """The user calls act for by default."""
        ...


@dataclass(frozen=True)
class CredentialTarget:
    """One credential to pull, and the user who owns it (None: the client's user)."""

    user_id: str | None
    credential_id: str


def check_targets(credentials: Any) -> list[CredentialTarget] | Literal["all"]:
    """The credentials as given, checked: ``"all"`` or a list of targets.

    Raises:
        ConfigurationError: For anything but ``"all"``, ids or ``(user_id, credential_id)``
            pairs, an empty list, or a credential named twice.
    """
    if credentials == "all":
        return "all"
    if isinstance(credentials, (str, bytes)) or not isinstance(credentials, Sequence):
        raise ConfigurationError(
            'credentials must be "all", a list of credential ids, or a list of (user_id, '
            f"credential_id) pairs, not {credentials!r}."
        )
    targets: list[CredentialTarget] = []
    for item in credentials:
        if isinstance(item, str) and item.strip():
            targets.append(CredentialTarget(None, item))
        elif (
            isinstance(item, tuple)
            and len(item) == 2
            and all(isinstance(part, str) and part.strip() for part in item)
        ):
            targets.append(CredentialTarget(item[0], item[1]))
        else:
            raise ConfigurationError(
                f"{item!r} is not a credential id or a (user_id, credential_id) pair of strings."
            )
    if not targets:
        raise ConfigurationError('credentials is empty: pass credential ids, or "all".')
    seen = [target.credential_id for target in targets]
    repeated = sorted({cid for cid in seen if seen.count(cid) > 1})
    if repeated:
        raise ConfigurationError(f"credentials names {', '.join(repeated)} more than once.")
    return targets


def find_targets(
    client: ManyClient,
    connector_id: str,
    requested: list[CredentialTarget] | Literal["all"],
) -> list[CredentialTarget]:
    """The credentials to pull: as given (the client's user where none is named), or every
    credential of the connector of every user of the account (``"all"``: one request per
    user).

    Returns:
        The targets, with their users.
    """
    if requested != "all":
        default_user = client.user_id
        return [
            CredentialTarget(target.user_id or default_user, target.credential_id)
            for target in requested
        ]
    found: list[CredentialTarget] = []
    for user in client.users.list():
        for credential in client.credentials.list(connector_id, user_id=user.user_id):
            if credential.credential_id:
                found.append(CredentialTarget(user.user_id, credential.credential_id))
    return found
