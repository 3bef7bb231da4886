"""``AlloyClient``: the typed client of the Alloy Connectivity API.

The client speaks both wire dialects without knowing which server it talks to: it always sends
``Authorization``, ``x-api-version`` and (when known) ``x-alloy-userid``, sends the contract's
execute body, adds the live API's located slots when an action's metadata declares where its
parameters go, and reads every answer envelope either dialect uses.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import requests

from alloy_data.client._operations import (
    ActionOperations,
    ConnectorOperations,
    CredentialOperations,
    UserOperations,
)
from alloy_data.config import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    ClientConfig,
    StoreOption,
    mask_secret,
)
from alloy_data.http import RetryPolicy, Transport
from alloy_data.options import (
    MANY_OPTION_NAMES,
    PULL_OPTION_NAMES,
    FlattenOption,
    TimestampsOption,
    UndeclaredParametersOption,
    documented,
    many_options_from,
    pull_options_from,
)

if TYPE_CHECKING:
    from datetime import timedelta
    from types import TracebackType

    from alloy_data.incremental import Incremental
    from alloy_data.many import MultiPull
    from alloy_data.pagination import PaginatorOption
    from alloy_data.progress import ProgressOption
    from alloy_data.pull import Pull
    from alloy_data.store import Store

__all__ = ["AlloyClient"]


class AlloyClient:
    """A client of the Alloy Connectivity API.

    Each setting comes from its argument, else the environment (``ALLOY_API_KEY``,
    ``ALLOY_BASE_URL``, ``ALLOY_API_VERSION``, ``ALLOY_USER_ID``), else the default (the
    production URL, version ``2025-09``). Use it as a context manager to close its
    connections; a session you pass in is left open.

    Args:
        api_key: The API key (sent as ``Authorization: Bearer``; never shown).
        base_url: The API's URL; plain http only for loopback unless ``allow_insecure_http``.
        api_version: Sent as ``x-api-version``.
        user_id: The end user calls act for (``x-alloy-userid``), unless a call says otherwise.
        timeout: Seconds, or ``(connect, read)`` seconds; always finite.
        max_retries: Retries after a 429, 502, 503, 504 or a connection failure (0: none).
        session: A ``requests.Session`` to use; the client will not close it.
        trust_env: False ignores environment variables, proxies and netrc.
        allow_insecure_http: Accept plain http to a host that is not loopback.
        logger: Where the one-line request log goes (default: ``alloy_data.http``).
        store: The local store of pulls (``client.store``; pulls use it with ``max_age=``): a
            folder, True (the user's data folder), False (none); default
            ``ALLOY_DATA_STORE`` (``off`` for none), else the user's data folder.

    Attributes:
        users: :class:`UserOperations`.
        connectors: :class:`ConnectorOperations`.
        actions: :class:`ActionOperations`.
        credentials: :class:`CredentialOperations`.

    Raises:
        ConfigurationError: No API key, a bad URL, or a bad option.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        api_version: str | None = None,
        user_id: str | None = None,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        session: requests.Session | None = None,
        trust_env: bool = True,
        allow_insecure_http: bool = False,
        logger: logging.Logger | None = None,
        store: StoreOption = None,
    ) -> None:
        self.config = ClientConfig.resolve(
            api_key,
            base_url=base_url,
            api_version=api_version,
            user_id=user_id,
            timeout=timeout,
            max_retries=max_retries,
            trust_env=trust_env,
            allow_insecure_http=allow_insecure_http,
            store=store,
        )
        self._store: Store | None = None
        self._transport = Transport(self.config, session=session, logger=logger)
        self._close_callbacks: builtins.list[Callable[[], object]] = []
        self.users = UserOperations(self, self._transport)
        self.connectors = ConnectorOperations(self, self._transport)
        self.actions = ActionOperations(self, self._transport)
        self.credentials = CredentialOperations(self, self._transport)

    @property
    def base_url(self) -> str:
        """The API's base URL."""
        return self.config.base_url

    @property
    def api_version(self) -> str:
        """The API version sent as ``x-api-version``."""
        return self.config.api_version

    @property
    def user_id(self) -> str | None:
        """The user calls act for by default, if any."""
        return self.config.user_id

    @property
    def store(self) -> Store | None:
        """The local store of pulls (list, drop, prune, SQL), or None when it is turned off.

        Pulls given ``max_age=`` are served from it and refreshed into it. Nothing is written
        until such a pull runs.
        """
        if self._store is None and self.config.store is not None:
            from alloy_data.store import Store

            self._store = Store(self.config.store)
        return self._store

    @property
    def retry_policy(self) -> RetryPolicy:
        """How one-off calls retry (``max_retries`` from the client's settings).

        Pulls start from it with a patience of their own (:meth:`RetryPolicy.for_pulls`).
        """
        return self._transport.retry_policy

    def __repr__(self) -> str:
        return (
            f"AlloyClient(base_url={self.base_url!r}, api_version={self.api_version!r}, "
            f"user_id={self.user_id!r}, api_key={mask_secret(self.config.api_key)!r})"
        )

    def close(self) -> None:
        """Close the client's connections (not those of a session you passed in).

        Then run the callbacks given to :meth:`add_close_callback`, each once. From then on
        every call that would send a request raises :class:`~alloy_data.ClientClosedError` at
        once; make a new client to go on.
        """
        self._transport.close()
        callbacks, self._close_callbacks = self._close_callbacks, []
        for callback in callbacks:
            callback()

    def add_close_callback(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` when the client is closed (``ad.connect()`` stops its sandbox so)."""
        self._close_callbacks.append(callback)

    def __enter__(self) -> AlloyClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # Pulls (many pages into frames and files) live in a higher layer, imported only when
    # used so that `import alloy_data` stays light.
    @documented(*PULL_OPTION_NAMES)
    def pull(
        self,
        connector_id: str,
        action_id: str,
        *,
        credential_id: str,
        user_id: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        undeclared_parameters: UndeclaredParametersOption = "refuse",
        paginator: PaginatorOption = "auto",
        page_size: int | None = None,
        max_pages: int | None = None,
        max_records: int | None = None,
        concurrency: int | Literal["auto"] = "auto",
        max_requests_per_second: float | None = None,
        retries: int | RetryPolicy | None = None,
        incremental: Incremental | None = None,
        timestamps: TimestampsOption = "auto",
        columns: Sequence[str] | None = None,
        flatten: FlattenOption = "dotted",
        flatten_depth: int | None = None,
        max_age: timedelta | float | str | None = None,
        progress: ProgressOption = "auto",
    ) -> Pull:
        """Prepare a lazy pull of every page of a list action.

        Nothing is fetched until the pull is iterated or converted (``iter_pages()``,
        ``iter_records()``, ``to_arrow()``, ``to_dataframe()``, ``to_parquet(path)``,
        ``to_file(path)``). A table or file sink after a complete run reuses that run's rows;
        ``pull.reset()`` makes the next one fetch anew. The options are checked here, once,
        into a :class:`~alloy_data.options.PullOptions` (``pull.options``).

        Args:
            connector_id: The connector, such as ``"shopify"``.
            action_id: A list-style action of that connector, such as ``"list-orders"``.
            credential_id: The credential (connection) the action runs with.
            user_id: The user who owns the credential (default: the client's user).

        Returns:
            The :class:`~alloy_data.pull.Pull`.

        Raises:
            ConfigurationError: An argument is of the wrong type or out of range, or the
                paginator is unknown; raised here, before anything is fetched.
        """
        options = pull_options_from(locals())
        from alloy_data.pull import Pull

        return Pull(
            self,
            connector_id,
            action_id,
            credential_id=credential_id,
            user_id=user_id,
            options=options,
        )

    @documented(*MANY_OPTION_NAMES, *PULL_OPTION_NAMES)
    def pull_many(
        self,
        connector_id: str,
        action_id: str,
        *,
        credentials: Sequence[str] | Sequence[tuple[str, str]] | Literal["all"],
        workers: int | None = None,
        on_error: Literal["continue", "raise"] = "continue",
        user_column: str = "_user_id",
        credential_column: str = "_credential_id",
        max_total_requests_per_second: float | None = None,
        parameters: Mapping[str, Any] | None = None,
        undeclared_parameters: UndeclaredParametersOption = "refuse",
        paginator: PaginatorOption = "auto",
        page_size: int | None = None,
        max_pages: int | None = None,
        max_records: int | None = None,
        concurrency: int | Literal["auto"] = "auto",
        max_requests_per_second: float | None = None,
        retries: int | RetryPolicy | None = None,
        incremental: Incremental | None = None,
        timestamps: TimestampsOption = "auto",
        columns: Sequence[str] | None = None,
        flatten: FlattenOption = "dotted",
        flatten_depth: int | None = None,
        max_age: timedelta | float | str | None = None,
        progress: ProgressOption = "auto",
    ) -> MultiPull:
        """Prepare a lazy pull of one list action for many credentials, as one dataset.

        Each credential is pulled as :meth:`pull` would (its own paging, page size,
        concurrency and rate limit), several credentials at once; every row gets the user and
        the credential it came from. A credential that fails is listed in
        ``stats.failures`` and the others go on. The options are checked here, once, into a
        :class:`~alloy_data.options.PullOptions` and a
        :class:`~alloy_data.options.ManyOptions`.

        Args:
            connector_id: The connector, such as ``"shopify"``.
            action_id: A list-style action of that connector, such as ``"list-orders"``.
            credentials: Credential ids (owned by the client's user), ``(user_id,
                credential_id)`` pairs, or ``"all"``: every credential of the connector of
                every user of the account, found through the API.

        Returns:
            The :class:`~alloy_data.many.MultiPull`; nothing is fetched until it is iterated
            or converted.

        Raises:
            ConfigurationError: An argument is of the wrong type or out of range.
        """
        options = pull_options_from(locals())
        many = many_options_from(locals())
        from alloy_data.many import MultiPull

        return MultiPull(
            self, connector_id, action_id, credentials=credentials, options=options, many=many
        )
