"""One base exception; subclasses carry the evidence a user needs to act."""

from __future__ import annotations


class AddressingError(Exception):
    """Base of every error this package raises on purpose."""


class InputError(AddressingError):
    """An input file or row cannot be read.

    Carries the ``path`` and, when known, the 1-based ``row`` so the one-line
    message names where the problem is.
    """

    def __init__(self, message: str, path: str | None = None, row: int | None = None):
        self.path = path
        self.row = row
        where = ""
        if path is not None:
            where = f"{path}"
            if row is not None:
                where += f", row {row}"
            where += ": "
        super().__init__(f"{where}{message}")


class ModelError(AddressingError):
    """The libpostal model is missing or broken."""


class GazetteerError(AddressingError):
    """The gazetteer file is missing, corrupt, or a source cannot be loaded."""

    def __init__(self, message: str, path: str | None = None):
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


class ConfigError(AddressingError):
    """A configuration file holds an unknown key or an invalid value."""

    def __init__(self, message: str, key: str | None = None, path: str | None = None):
        self.key = key
        self.path = path
        prefix = ""
        if path:
            prefix += f"{path}: "
        if key:
            prefix += f"[{key}] "
        super().__init__(prefix + message)


class OutputError(AddressingError):
    """Output cannot be written (bad path, lock held by another run...)."""
