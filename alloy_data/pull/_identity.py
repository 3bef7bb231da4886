"""What a pull is, for files and checkpoints: its provenance and its fingerprint, secrets masked."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alloy_data.pull._plan import Pull

__all__ = ["fingerprint", "provenance", "public_parameters"]

# Parameter names whose values never go into provenance metadata or logs.
_SECRET_WORDS = ("token", "secret", "password", "key", "auth", "signature")


def public_parameters(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Return the parameters with the values of secret-looking names replaced by ``"***"``."""
    return {
        key: ("***" if any(word in key.lower() for word in _SECRET_WORDS) else value)
        for key, value in parameters.items()
    }


def provenance(pull: Pull) -> dict[str, str]:
    """The provenance of ``pull`` recorded in exported files (see :meth:`Pull.provenance`)."""
    from alloy_data._version import __version__

    config = getattr(pull.client, "config", None)
    return {
        "connector": pull.connector_id,
        "action": pull.action_id,
        "parameters": json.dumps(public_parameters(pull.parameters), default=str),
        "user_id": str(pull.user_id or getattr(config, "user_id", None) or ""),
        "credential_id": pull.credential_id,
        "base_url": str(getattr(config, "base_url", "") or ""),
        "alloy_data_version": __version__,
    }


def fingerprint(pull: Pull, since: float | None = None) -> str:
    """A stable identity of ``pull`` (see :meth:`Pull.fingerprint`)."""
    options = pull.options
    identity = json.dumps(
        [
            pull.connector_id,
            pull.action_id,
            pull.credential_id,
            dict(pull.parameters),
            options.page_size,
            options.max_records,
            *([] if since is None else [since]),
            # Only when not the default, so that earlier checkpoints still resume.
            *([options.timestamps] if options.timestamps != "auto" else []),
            *(
                [options.columns, options.flatten, options.flatten_depth]
                if options.columns is not None
                or options.flatten != "dotted"
                or options.flatten_depth is not None
                else []
            ),
        ],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(identity.encode()).hexdigest()[:32]
