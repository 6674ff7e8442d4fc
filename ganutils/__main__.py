"""Run the command-line interface with `python -m ganutils`."""

import sys

from ganutils.cli import main

if __name__ == "__main__":
    sys.exit(main())
