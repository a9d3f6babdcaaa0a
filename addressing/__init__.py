"""Address validation and geocoding for last-mile delivery.

parse -> standardize -> match -> geocode -> assess, over batches. No Prefect in here: the
flows in ``flows/`` call these same functions.
"""

from __future__ import annotations

__version__ = "0.1.0"

from addressing.errors import (  # noqa: E402
    AddressingError,
    ConfigError,
    GazetteerError,
    GazetteerReadError,
    InputError,
    LockHeldError,
    ModelError,
    OutputError,
)

__all__ = [
    "__version__",
    "AddressingError",
    "ConfigError",
    "GazetteerError",
    "GazetteerReadError",
    "InputError",
    "LockHeldError",
    "ModelError",
    "OutputError",
    "parse",
    "parse_batch",
    "clean_table",
    "clean_order",
    "clean_file",
    "open_gazetteer",
    "load_risk",
]


def __getattr__(name: str):
    """Public functions, imported on first use so ``import addressing`` stays light."""
    if name in ("parse", "parse_batch"):
        from addressing import parse as _parse

        return getattr(_parse, name)
    if name in ("clean_table", "clean_order"):
        from addressing import pipeline

        return getattr(pipeline, name)
    if name == "clean_file":
        from addressing.batch import clean_file

        return clean_file
    if name == "open_gazetteer":
        from addressing.gazetteer import open_gazetteer

        return open_gazetteer
    if name == "load_risk":
        from addressing.risk import load_risk

        return load_risk
    raise AttributeError(name)
