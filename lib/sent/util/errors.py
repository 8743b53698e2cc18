"""The project's one exception type: a message a user can act on."""


class SentError(Exception):
    """Bad input or a failed step; the CLI prints the message on one line and exits 2."""
