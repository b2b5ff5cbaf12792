#!/usr/bin/env python3
"""dissect from a checkout without installing: the same as the `dissect` console script (agent.cli_main)."""
import sys

from agent.cli_main import main

if __name__ == "__main__":
    sys.exit(main())
