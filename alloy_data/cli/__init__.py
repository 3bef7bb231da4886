"""The ``alloy-data`` command line: a thin shell over the library.

Every command prints a table (or JSON with ``--json``). Errors are one line on stderr and a
non-zero exit; ``--debug`` shows the traceback too. ``--sandbox`` runs a command against an
embedded offline sandbox instead of the real API.
"""

from alloy_data.cli._main import COMMANDS, main
from alloy_data.cli._pull import parse_params
from alloy_data.cli._storage import parse_storage_options

__all__ = ["COMMANDS", "main", "parse_params", "parse_storage_options"]
