"""``python -m alloy_data``: the same as the ``alloy-data`` command."""

import sys

from alloy_data.cli import main

sys.exit(main())
