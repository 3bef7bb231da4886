"""What a pull needs of its client, named by the little it uses rather than imported.

A pull sits below the client in the package's layers, so the client is described here as
protocols; an :class:`~alloy_data.AlloyClient` is one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from alloy_data.config import ClientConfig
    from alloy_data.http import BudgetFigures, OnRetry, RetryPolicy
    from alloy_data.models import Action, ActionResult

__all__ = ["ActionRunner", "PullClient"]


class ActionRunner(Protocol):
    """What a pull asks of a client's actions: an action's details and one execute call."""

    def get(
        self, connector_id: str, action_id: str, *, retry_policy: RetryPolicy | None = None
    ) -> Action:
        """Return the action with its parameters."""
        ...

    def execute(
        self,
        connector_id: str,
        action_id: str,
        *,
        credential_id: str,
        user_id: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        idempotent: bool = False,
        action: Action | None = None,
        on_retry: OnRetry | None = None,
        before_attempt: Callable[[], object] | None = None,
        retry_policy: RetryPolicy | None = None,
        on_limit_wait: Callable[[float], None] | None = None,
    ) -> ActionResult:
        """Execute the action once and return its answer (one page)."""
        ...

    def rate_limits(self, credential_id: str) -> list[BudgetFigures]:
        """The rate limits executing with ``credential_id`` spends, those seen so far."""
        ...


class PullClient(Protocol):
    """What a pull needs of its client (an :class:`~alloy_data.AlloyClient` is one)."""

    @property
    def actions(self) -> ActionRunner:
        """The client's actions."""
        ...

    @property
    def config(self) -> ClientConfig:
        """The client's resolved configuration (base URL and user go into provenance)."""
        ...

    @property
    def retry_policy(self) -> RetryPolicy:
        """How the client retries one-off calls; a pull starts from it."""
        ...
