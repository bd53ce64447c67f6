"""``python -m lib.compare OLD NEW``: what changed between two runs, from their
run records. The comparison itself is :mod:`lib.suite.changes`."""

import sys

from lib.suite.changes import main

if __name__ == "__main__":
    sys.exit(main())
