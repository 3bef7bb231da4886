"""``python -m alloy_data.cli``: the same as ``alloy-data``."""

import sys

from alloy_data.cli import main

# Only when run: tools that import every module (documentation builders) must not start it.
if __name__ == "__main__":
    sys.exit(main())
