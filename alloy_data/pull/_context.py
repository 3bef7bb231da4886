"""What a pull of many credentials sets on each of its pulls, declared in one place."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from alloy_data._tuning import CHUNK_RECORDS

if TYPE_CHECKING:
    from alloy_data.engine import RequestRate
    from alloy_data.progress import ProgressOption

__all__ = ["PullContext"]


@dataclass(frozen=True)
class PullContext:
    """How one pull takes part in a larger job; a lone pull uses the defaults.

    Attributes:
        tags: Constant string columns added to every row (a pull of many credentials adds
            the user and the credential), last, replacing a record field of the same name.
        shared_rate: A request rate shared with the job's other pulls, on top of the pull's own
            ``max_requests_per_second``.
        chunk_records: Records converted at a time: smaller when many pulls run at once, so
            that their chunks in flight together stay about what one pull's would be.
        finish_gate: Held while an export renders its file (a row group at a time in memory),
            so that only a few of the job's pulls do that at once.
        progress: Replaces the options' ``progress`` (a job reports for all its pulls).
    """

    tags: Mapping[str, str] = field(default_factory=dict)
    shared_rate: RequestRate | None = None
    chunk_records: int = CHUNK_RECORDS
    finish_gate: contextlib.AbstractContextManager[Any] = field(
        default_factory=contextlib.nullcontext
    )
    progress: ProgressOption | None = None
