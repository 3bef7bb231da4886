"""``python -m alloy_data.cli``: the same as ``alloy-data``."""

import sys

from alloy_data.cli import main

sys.exit(main())
