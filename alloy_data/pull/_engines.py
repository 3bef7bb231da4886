"""Optional engines a pull's rows go to (Polars), imported only when asked for."""

from __future__ import annotations

from types import ModuleType

from alloy_data.errors import ConfigurationError

__all__ = ["POLARS_EXTRA", "import_polars"]

#: What to run to get Polars, named in the error when it is missing.
POLARS_EXTRA = "pip install 'alloy-data[polars]'"


def import_polars() -> ModuleType:
    """The ``polars`` module, imported before anything is fetched for it.

    Raises:
        ConfigurationError: When Polars cannot be imported, naming the extra to install.
    """
    try:
        import polars
    except ImportError as error:
        raise ConfigurationError(
            f"to_polars() needs Polars, which cannot be imported here ({error}). Install the "
            f"extra: {POLARS_EXTRA}"
        ) from None
    return polars
