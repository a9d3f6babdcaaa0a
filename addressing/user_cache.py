"""The user's cache folder for what the project derives once and reuses: the libpostal model,
the parser's ZIP table. ``$XDG_CACHE_HOME/addressing`` (``~/.cache/addressing`` by default)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    """``$XDG_CACHE_HOME/addressing/<parts>`` (not created here)."""
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root, "addressing", *parts)
