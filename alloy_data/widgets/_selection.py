"""The Explorer's selection as a pull: the chosen credential's, or every credential's."""

from __future__ import annotations

from typing import TYPE_CHECKING

from alloy_data.errors import ConfigurationError

if TYPE_CHECKING:
    from alloy_data.many import MultiPull
    from alloy_data.options import ManyOptions, PullOptions
    from alloy_data.pull import Pull
    from alloy_data.widgets._explorer import Explorer
    from alloy_data.widgets._pickers import ConnectorPicker

__all__ = ["every_credential", "one_credential"]


def one_credential(explorer: Explorer, options: PullOptions) -> Pull:
    """The pull of the chosen credential with ``options``.

    Raises:
        ConfigurationError: The connector, credential or action is not chosen yet.
    """
    from alloy_data.pull import Pull

    _connectors_listed(explorer.connector)
    missing = [
        name
        for name, value in (
            ("a connector", explorer.connector.value),
            ("a credential", explorer.credential.value),
            ("an action", explorer.action.value),
        )
        if not value
    ]
    connector_id, action_id = explorer.connector.value, explorer.action.value
    credential_id = explorer.credential.value
    if missing or connector_id is None or action_id is None or credential_id is None:
        raise ConfigurationError(f"Choose {', '.join(missing)} first.")
    return Pull(
        explorer.client,
        connector_id,
        action_id,
        credential_id=credential_id,
        user_id=explorer.user_id,
        options=options,
    )


def every_credential(explorer: Explorer, options: PullOptions, many: ManyOptions) -> MultiPull:
    """The pull of every credential of the chosen connector with ``options``.

    Raises:
        ConfigurationError: The connector or action is not chosen yet.
    """
    from alloy_data.many import MultiPull

    _connectors_listed(explorer.connector)
    connector_id, action_id = explorer.connector.value, explorer.action.value
    if connector_id is None or action_id is None:
        raise ConfigurationError("Choose a connector and an action first.")
    return MultiPull(
        explorer.client, connector_id, action_id, credentials="all", options=options, many=many
    )


def _connectors_listed(connector: ConnectorPicker) -> None:
    """Raise why nothing can be chosen when the connectors could not be listed (a server
    that cannot be reached), after one more try, rather than ask to choose a connector."""
    if connector.value is None and connector.error is not None:
        connector.refresh()
        if connector.error is not None:
            raise connector.error
