"""``python -m lib.run``: the suite runner, kept at this name for the commands
people already type. The runner itself is :mod:`lib.suite.run`."""

import sys

from lib.suite.run import main

if __name__ == "__main__":
    sys.exit(main())
