"""What a Dask task needs to build its own client, with the API key masked wherever it shows."""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from typing import Any

from alloy_data.client import AlloyClient
from alloy_data.config import ClientConfig, mask_secret
from alloy_data.errors import ConfigurationError

__all__ = ["ClientSpec", "MaskedSecret"]

# A random key per process: graph tokens are stable within a session, yet say nothing that
# could confirm a guessed API key.
_TOKEN_KEY = os.urandom(32)


class MaskedSecret:
    """A secret that masks itself wherever it is shown: repr, str, Dask's graph and its keys.

    It pickles with its value (a worker needs the key to call the API), so send task graphs
    over TLS (``distributed.Client(security=...)``) where the network is shared.

    Args:
        value: The secret, such as an API key.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str) or not value:
            raise ConfigurationError("A MaskedSecret needs a non-empty string.")
        self._value = value

    def reveal(self) -> str:
        """Return the secret itself, to hand to the client that sends it."""
        return self._value

    def __repr__(self) -> str:
        return f"MaskedSecret({mask_secret(self._value)!r})"

    def __str__(self) -> str:
        return mask_secret(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MaskedSecret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple[Any, ...]:
        return (MaskedSecret, (self._value,))

    def __dask_tokenize__(self) -> str:
        # Dask names tasks by a hash of their arguments; a keyed hash with a per-process key
        # keeps that hash from confirming a guess of the secret.
        return hmac.new(_TOKEN_KEY, self._value.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class ClientSpec:
    """What a Dask task needs to build its own client: small, picklable, the key masked.

    A client's ``session=`` and ``logger=`` are not part of it: the task's client makes its
    own ``requests`` session and logs where the worker's logging goes.

    Attributes:
        api_key: The API key, masked in every repr.
        base_url: The API's base URL.
        api_version: Sent as ``x-api-version``.
        user_id: The default user of calls, if any.
        timeout: ``(connect, read)`` seconds.
        max_retries: The client's retries for one-off calls (pulls start from it).
        trust_env: Whether the worker's environment (proxies, netrc) is read.
        allow_insecure_http: Whether plain http to a host that is not loopback is accepted.
        store: The local store's folder (``max_age=`` pulls use it), or None for none.
    """

    api_key: MaskedSecret
    base_url: str
    api_version: str
    user_id: str | None
    timeout: tuple[float, float]
    max_retries: int
    trust_env: bool = True
    allow_insecure_http: bool = False
    store: str | None = None

    @classmethod
    def from_config(cls, config: ClientConfig) -> ClientSpec:
        """Take a client's resolved configuration (``client.config``).

        Returns:
            The spec.
        """
        return cls(
            api_key=MaskedSecret(config.api_key),
            base_url=config.base_url,
            api_version=config.api_version,
            user_id=config.user_id,
            timeout=config.timeout,
            max_retries=config.max_retries,
            trust_env=config.trust_env,
            allow_insecure_http=config.allow_insecure_http,
            store=config.store,
        )

    def connect(self) -> AlloyClient:
        """Build a client with these settings (inside a task, on a worker).

        Returns:
            A new :class:`~alloy_data.AlloyClient`; close it when done.
        """
        return AlloyClient(
            self.api_key.reveal(),
            base_url=self.base_url,
            api_version=self.api_version,
            user_id=self.user_id,
            timeout=self.timeout,
            max_retries=self.max_retries,
            trust_env=self.trust_env,
            allow_insecure_http=self.allow_insecure_http,
            store=self.store if self.store is not None else False,
        )
