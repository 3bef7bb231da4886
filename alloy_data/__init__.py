"""alloy-data: pull data from the apps behind the Alloy Connectivity API into DataFrames.

Importing this package is cheap: pandas, pyarrow, ipywidgets and tqdm load when first used.
"""

from __future__ import annotations

from alloy_data.errors import (
    AlloyAPIError,
    AlloyConnectionError,
    AlloyError,
    AlloyTimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ExportError,
    NotFoundError,
    PaginationError,
    PaginationWarning,
    PermissionDeniedError,
    RateLimitError,
    ResponseError,
    ServerError,
)

__version__ = "0.1.0"

__all__ = [
    "AlloyAPIError",
    "AlloyConnectionError",
    "AlloyError",
    "AlloyTimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "ExportError",
    "NotFoundError",
    "PaginationError",
    "PaginationWarning",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseError",
    "ServerError",
    "__version__",
]
