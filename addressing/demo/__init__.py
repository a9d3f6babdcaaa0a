"""The demo: a day of seeded orders made from real address layers, and what they should give.

Product-side code that no stage of the pipeline uses; it ships inside the package, with the
layers and the demo's risk policy as package data (``DATA``), so that ``addressing demo``
works from an installed wheel anywhere, not only in a checkout.

- ``workdir``: ``prepare`` builds the demo gazetteer and writes the day's orders and their truth
- ``day``: the day's mix: customers at their own addresses, a few percent of each real problem
- ``synth``: writes a real address the way customers type it (also used by tests and benchmarks)
- ``report``: compares a cleaned day with the truth: which flags are the planted problems
"""

from __future__ import annotations

from pathlib import Path

#: the shipped demo layers, sources file, risk policy, service areas and zones
DATA = Path(__file__).resolve().parent / "data"

__all__ = ["DATA"]
