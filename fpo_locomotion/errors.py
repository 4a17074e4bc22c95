"""Errors caused by user input. The CLI prints their message on one line and exits non-zero, no traceback."""


class UserError(Exception):
    """Bad input: the message names the problem and the fix."""


class ConfigError(UserError, ValueError):
    """A configuration key, value or command-line option is wrong."""


class CheckpointError(UserError):
    """A checkpoint is missing, unreadable, or does not fit the task."""
