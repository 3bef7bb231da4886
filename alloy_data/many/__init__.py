"""``client.pull_many(...)``: one list action for many credentials, side by side, as one dataset.

:class:`MultiPull` is the job (one :class:`~alloy_data.pull.Pull` per credential, kept from run
to run); which credentials it covers lives in ``_targets``, its figures in ``_stats``, its file
sinks in ``_export``, the combining of its credentials' tables in ``_combine``, its notebook
display in ``_display``.
"""

from alloy_data.many._job import MultiPull
from alloy_data.many._stats import CredentialFailure, MultiPullStats
from alloy_data.many._targets import CredentialTarget, ManyClient
from alloy_data.options import CREDENTIAL_COLUMN, USER_COLUMN

__all__ = [
    "CREDENTIAL_COLUMN",
    "USER_COLUMN",
    "CredentialFailure",
    "CredentialTarget",
    "ManyClient",
    "MultiPull",
    "MultiPullStats",
]
