"""The one base class for errors a user can act on; the CLI prints them as a single line."""


class SmartframesError(Exception):
    """An error caused by the user's input (a file, an argument, a store), not by a bug."""
