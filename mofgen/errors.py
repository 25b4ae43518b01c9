"""Exceptions that the CLI turns into one clear line on stderr and a non-zero exit.

Anything a user can cause (bad input, a database that cannot be opened, an unknown
campaign) raises a :class:`MofgenError` subclass; anything else is a bug and keeps its
traceback.
"""


class MofgenError(Exception):
    """Base class for errors caused by input or environment, reported without traceback."""

    exit_code = 2


class InvalidInput(MofgenError):
    """A file, argument or document that does not validate."""


class DatabaseError(MofgenError):
    """The database cannot be reached, opened or written."""

    exit_code = 3


class StoreLocked(DatabaseError):
    """Another process owns the embedded store for writing."""


class NotFound(MofgenError):
    """An id, campaign or model version that does not exist."""

    exit_code = 4


class IllegalTransition(MofgenError):
    """A state change the state machine does not allow (or whose precondition failed)."""


class ToolFailure(MofgenError):
    """An external code crashed, timed out or wrote output that cannot be parsed."""

    exit_code = 5
