"""The address of a pull's copy in the store: what it fetched, never a secret."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["StoreKey", "path_segment"]

# Characters a folder name keeps as they are; others become "_" (the digest tells copies apart).
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def path_segment(text: str) -> str:
    """A folder name for an id: its safe characters, never ``.`` or ``..`` alone."""
    segment = _UNSAFE.sub("_", text).strip(".") or "_"
    return segment[:100]


@dataclass(frozen=True)
class StoreKey:
    """Which pull a stored copy holds.

    Attributes:
        connector_id: The connector.
        action_id: The action.
        credential_id: The credential the action ran with.
        user_id: The user who owns the credential ("" when unknown).
        shape: The options that change the rows or columns (the parameters among them), by
            name; they enter only the digest, so that no parameter value reaches a path.
    """

    connector_id: str
    action_id: str
    credential_id: str
    user_id: str = ""
    shape: Mapping[str, Any] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        """A stable hash of the whole key (32 hex characters)."""
        text = json.dumps(
            [self.connector_id, self.action_id, self.credential_id, self.user_id, self.shape],
            sort_keys=True,
            default=repr,
        )
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    @property
    def folder(self) -> tuple[str, str, str]:
        """The folders of the copy, below the store's root: connector, action, credential."""
        return (
            path_segment(self.connector_id),
            path_segment(self.action_id),
            path_segment(self.credential_id),
        )
