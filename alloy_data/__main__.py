"""``python -m alloy_data``: the same as the ``alloy-data`` command."""

import sys

from alloy_data.cli import main

# Only when run: tools that import every module (documentation builders) must not start it.
if __name__ == "__main__":
    sys.exit(main())
