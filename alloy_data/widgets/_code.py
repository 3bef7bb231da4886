"""The Python that reproduces what the Explorer shows: "Show code"."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import ipywidgets as widgets

    from alloy_data.incremental import Incremental

__all__ = ["count", "display_code", "literal", "reproducing_code"]

# The production API: generated code for it (and for the local sandbox) is `ad.connect()`.
_PRODUCTION_URL = "https://production.runalloy.com"
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def reproducing_code(
    *,
    base_url: str,
    connector_id: str | None,
    action_id: str | None,
    credential_id: str | None,
    user_id: str | None,
    parameters: str,
    refreshed: tuple[str | Path, Incremental] | None,
    shape: dict[str, Any] | None = None,
    max_age: str | None = None,
) -> str:
    """Lines that import alloy_data, make a client, pull and build a DataFrame ``df``.

    Args:
        base_url: The client's API URL (production and loopback become ``ad.connect()``).
        connector_id: The connector.
        action_id: The action.
        credential_id: The credential, or None for every credential (``pull_many``).
        user_id: The user, if one was chosen.
        parameters: The parameters, already written as Python.
        refreshed: After an export that Refresh can update: its path and ``Incremental``.
        shape: ``columns``, ``flatten`` and ``flatten_depth`` as the column picker sets them;
            those that are not the default are written out.
        max_age: The max age the rows are served from the local store within, if one is set.

    Returns:
        The code, never with the API key.
    """
    lines = [
        "import alloy_data as ad",
        "",
        _client_line(base_url),
        "pull = client.pull(" if credential_id is not None else "pull = client.pull_many(",
        f"    {literal(connector_id)},",
        f"    {literal(action_id)},",
    ]
    if credential_id is None:
        lines.append('    credentials="all",')
    else:
        lines.append(f"    credential_id={literal(credential_id)},")
        if user_id:
            lines.append(f"    user_id={literal(user_id)},")
    lines.append(f"    parameters={parameters},")
    defaults = {"columns": None, "flatten": "dotted", "flatten_depth": None}
    lines += [
        f"    {name}={literal(value)},"
        for name, value in (shape or {}).items()
        if value != defaults.get(name)
    ]
    if max_age:
        lines.append(f"    max_age={literal(max_age)},")
    if refreshed is not None:
        incremental = refreshed[1]
        keys = incremental.keys[0] if len(incremental.keys) == 1 else list(incremental.keys)
        lines.append(
            f"    incremental=ad.Incremental({literal(incremental.cursor_field)}, "
            f"primary_key={literal(keys)}),"
        )
    lines += [")", "df = pull.to_dataframe()"]
    if refreshed is not None:
        lines.append(
            f'pull.to_parquet({literal(str(refreshed[0]))}, mode="merge")  # what Refresh does'
        )
    lines.append("")
    return "\n".join(lines)


def _client_line(base_url: str) -> str:
    base_url = base_url.rstrip("/")
    host = urlsplit(base_url).hostname or ""
    if base_url == _PRODUCTION_URL or host in _LOOPBACK_HOSTS:
        return "client = ad.connect()  # ALLOY_API_KEY, or else the offline sandbox"
    return f"client = ad.AlloyClient(base_url={literal(base_url)})  # the key: ALLOY_API_KEY"


def count(number: int, noun: str) -> str:
    """``"1 record"``, ``"2,000 records"``."""
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def literal(value: Any) -> str:
    """Write a value as Python source, strings in double quotes as formatters leave them."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        items = ", ".join(f"{literal(key)}: {literal(item)}" for key, item in value.items())
        return f"{{{items}}}"
    if isinstance(value, (list, tuple)):
        items = ", ".join(literal(item) for item in value)
        return (
            f"[{items}]"
            if isinstance(value, list)
            else f"({items}{',' if len(value) == 1 else ''})"
        )
    return repr(value)


def display_code(output: widgets.Output, code: str) -> None:
    """Show ``code`` in ``output``, as text and as preformatted HTML."""
    output.outputs = (
        {
            "output_type": "display_data",
            "data": {"text/plain": code, "text/html": f"<pre>{html.escape(code)}</pre>"},
            "metadata": {},
        },
    )
