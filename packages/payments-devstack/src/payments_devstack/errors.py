"""The one error type of the dev stack: its message is the single line the user sees."""


class DevstackError(Exception):
    """A component could not start or a precondition failed; the message names it."""
