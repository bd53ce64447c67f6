"""``python -m lib.report``: rebuild a run's HTML report, kept at this name for
the commands people already type. The report itself is :mod:`lib.suite.report`."""

import sys

from lib.suite.report import main

if __name__ == "__main__":
    sys.exit(main())
