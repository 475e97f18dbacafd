"""`python -m linksim` runs the command line."""

import sys

from linksim.cli import main

if __name__ == "__main__":
    sys.exit(main())
