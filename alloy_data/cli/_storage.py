"""``--storage-option KEY=VALUE``: fsspec options for a URL ``--out``, never printed."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from alloy_data.errors import ConfigurationError

__all__ = ["parse_storage_options", "without_secrets"]


def parse_storage_options(pairs: Sequence[str]) -> dict[str, Any]:
    """Parse ``--storage-option KEY=VALUE`` pairs into the ``storage_options`` dict of fsspec.

    A value that parses as JSON is taken as JSON (``anon=true``, ``client_kwargs={...}``), any
    other as text; a dotted key nests (``client_kwargs.endpoint_url=http://...`` becomes
    ``{"client_kwargs": {"endpoint_url": "http://..."}}``). A later pair wins over an earlier
    one for the same key.

    Returns:
        The options as a dict (empty for no pairs).

    Raises:
        ConfigurationError: For a pair without ``=``, an empty key or key part, or a key that
            is both a value and a group (``a=1`` and ``a.b=2``). The message never shows a
            value, which may be a secret.
    """
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        parts = [part.strip() for part in key.split(".")]
        if not sep or not all(parts):
            # The pair itself is not shown: without its "=", a secret may be all there is.
            raise ConfigurationError(
                "--storage-option takes KEY=VALUE, such as --storage-option "
                "client_kwargs.endpoint_url=http://localhost:9000; one was given without a "
                "key or without '='."
            )
        try:
            parsed: Any = json.loads(value)
        except ValueError:
            parsed = value
        group = options
        for depth, part in enumerate(parts[:-1]):
            group = group.setdefault(part, {})
            if not isinstance(group, dict):
                raise ConfigurationError(
                    f"--storage-option {'.'.join(parts[: depth + 1])!r} is given both as a "
                    f"value and as a group of options ({key.strip()!r}): give one of them."
                )
        if isinstance(group.get(parts[-1]), dict) and isinstance(parsed, dict):
            group[parts[-1]].update(parsed)
        else:
            group[parts[-1]] = parsed
    return options


def _leaf_texts(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaf_texts(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _leaf_texts(item)
    elif value is not None and not isinstance(value, bool):
        yield str(value)


def without_secrets(message: str, pairs: Sequence[str]) -> str:
    # The library's messages name options, never their values; a filesystem's own exception
    # text, quoted inside them, is not under our control, so every value given is masked.
    try:
        options = parse_storage_options(pairs)
    except ConfigurationError:
        options = {}
    for text in sorted(set(_leaf_texts(options)), key=len, reverse=True):
        if len(text) >= 4:
            message = message.replace(text, "***")
    return message
