"""Run the sandbox: ``python -m alloy_data.sandbox --port 8080``."""

from __future__ import annotations

import sys

from alloy_data.sandbox.cli import main

if __name__ == "__main__":
    sys.exit(main())
