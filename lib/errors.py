"""Named exceptions: what the user sees instead of a Java stack trace."""


class TicketInsightsError(Exception):
    """Base class for every error this project raises on purpose."""

    def _render_traceback_(self):
        # IPython/papermill show this instead of a stack trace: one clear line.
        return [f"{type(self).__name__}: {self}"]


class InputError(TicketInsightsError):
    """An input file is missing, unreadable or has the wrong shape.

    The message names the file, the line or column where known, and what to do.
    """


class InputChangedError(InputError):
    """An input is no longer the version its run pinned (rewritten mid-run)."""


class ParameterError(TicketInsightsError):
    """A run parameter is invalid (checked before Spark starts)."""


class JavaNotFoundError(TicketInsightsError):
    """No Java runtime that Spark can use was found."""


class UnknownTableError(TicketInsightsError):
    """A query named a table that has not been written yet."""
