"""The ticket-insights pipeline: read, clean, transform, write (docs/contract.md).

Module map: README.md, "Module map". The harness that runs the notebooks is
``lib.suite``; no pipeline module imports it.
"""

from lib.errors import InputError, ParameterError, TicketInsightsError

__all__ = ["InputError", "ParameterError", "TicketInsightsError"]
