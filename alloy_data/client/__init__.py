"""``AlloyClient``: the typed client of the Alloy Connectivity API, one method per operation.

:class:`AlloyClient` holds the configuration and the transport, and builds pulls; its namespaces
(``users``, ``connectors``, ``actions``, ``credentials``) live in ``_operations``.
"""

from alloy_data.client._client import AlloyClient
from alloy_data.client._operations import (
    ACTION_CACHE_SIZE,
    ActionOperations,
    ConnectorOperations,
    CredentialOperations,
    UserOperations,
    build_execute_body,
)

__all__ = [
    "ACTION_CACHE_SIZE",
    "ActionOperations",
    "AlloyClient",
    "ConnectorOperations",
    "CredentialOperations",
    "UserOperations",
    "build_execute_body",
]
