"""alloy-data: pull data from the apps behind the Alloy Connectivity API into DataFrames.

Importing this package is cheap: pandas, pyarrow, ipywidgets and tqdm load when first used.
"""

from __future__ import annotations

import os
from typing import Any

from alloy_data._version import __version__
from alloy_data.client import AlloyClient
from alloy_data.connect import connect
from alloy_data.errors import (
    AlloyAPIError,
    AlloyConnectionError,
    AlloyError,
    AlloyTimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConfigurationError,
    ConflictError,
    ExportError,
    NotFoundError,
    PaginationError,
    PaginationWarning,
    PermissionDeniedError,
    RateLimitError,
    ResponseError,
    ServerError,
)
from alloy_data.incremental import Incremental, IncrementalWarning

__all__ = [
    "AlloyAPIError",
    "AlloyClient",
    "AlloyConnectionError",
    "AlloyError",
    "AlloyTimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ConfigurationError",
    "ConflictError",
    "ExportError",
    "Incremental",
    "IncrementalWarning",
    "NotFoundError",
    "PaginationError",
    "PaginationWarning",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseError",
    "ServerError",
    "__version__",
    "connect",
    "read_metadata",
]


def read_metadata(
    path: str | os.PathLike[str], *, storage_options: dict[str, Any] | None = None
) -> dict[str, str]:
    """Return the provenance alloy-data stored in a Parquet file or dataset directory.

    Args:
        path: A Parquet file or dataset directory, or its URL (``s3://bucket/orders.parquet``).
        storage_options: For a URL: the filesystem's options (credentials, endpoint), as
            pandas takes them.

    Returns:
        A dict: connector, action, parameters (secrets removed), user and credential ids,
        base URL, pulled-at time, row count, paginator and alloy-data version.
    """
    from alloy_data.export import read_metadata as read

    return read(path, storage_options=storage_options)
