"""One base exception; subclasses carry the evidence a user needs to act.

The type says what to do about an error, so callers decide by type, never by its words: a
flow retries ``LockHeldError`` and ``GazetteerReadError`` (and ``OSError``), which may pass;
the others name a fault of the input or the set-up that a retry cannot cure.
"""

from __future__ import annotations

from pathlib import Path


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
    """The gazetteer file is missing or corrupt, a query on it failed, or a source cannot be
    loaded. Cleaning stops at it (a chunk fails whole): every row would fail alike."""

    def __init__(self, message: str, path: str | None = None):
        self.message = message
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)

    def __reduce__(self):
        # a build's worker processes send errors back pickled: keep the path apart
        return type(self), (self.message, self.path), self.__dict__

    def naming(self, path: str | Path) -> GazetteerError:
        """This error with the gazetteer file named, for one raised where only a DuckDB cursor
        was at hand (its message then says which file)."""
        return self if self.path else type(self)(self.message, str(path))


class GazetteerReadError(GazetteerError):
    """Reading the gazetteer failed on I/O (a disk or network file system error): the file
    itself may be fine, so a retry may succeed."""


class LockHeldError(AddressingError):
    """Another run holds the lock on this batch or gazetteer file; a try after it has
    finished succeeds."""

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
    """Output cannot be written (a bad path, a folder outside the output root...)."""


class DecisionStoreError(AddressingError):
    """The store of operator decisions cannot be read or written (a broken file, an unknown
    decision id). A store held by another process past the wait is a ``LockHeldError``."""

    def __init__(self, message: str, path: str | None = None):
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)
