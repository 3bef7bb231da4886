"""The ``alloy-data`` command line: a thin shell over the library.

Every command prints a table (or JSON with ``--json``). Errors are one line on stderr and a
non-zero exit; ``--debug`` shows the traceback too. ``--sandbox`` runs a command against an
embedded offline sandbox instead of the real API.
"""

from alloy_data.cli._main import COMMANDS, main, parse_args
from alloy_data.cli._pull_options import OPTION_FLAGS, options_from_args, parse_params
from alloy_data.cli._storage import parse_storage_options

__all__ = [
    "COMMANDS",
    "OPTION_FLAGS",
    "main",
    "options_from_args",
    "parse_args",
    "parse_params",
    "parse_storage_options",
]
