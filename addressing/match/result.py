"""The match stage's answer for one parsed address (``MatchResult``): its fields and what they mean."""

from __future__ import annotations

from dataclasses import dataclass, field

from addressing.schema import MatchStatus, Precision


@dataclass(slots=True)
class MatchResult:
    """What matching found for one address: status, where it is and how surely, the address as
    the gazetteer writes it (its components: the parse's, corrected or completed by the match),
    what was changed (``corrections``), and the facts the risk rules read."""

    status: str = MatchStatus.UNMATCHED.value
    precision: str = Precision.NONE.value
    confidence: float = 0.0
    lat: float | None = None
    lon: float | None = None
    house_number: str | None = None
    predirectional: str | None = None
    street_name: str | None = None
    street_type: str | None = None
    postdirectional: str | None = None
    unit_type: str | None = None
    unit: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None
    corrections: list[str] = field(default_factory=list)
    candidates: list[dict] = field(default_factory=list)    # for ``ambiguous``: the close ones, best first
    reason: str | None = None       # for ``unmatched`` and ``invalid``: why, in words
    score: float = 0.0              # the best candidate's match score (``scoring``)
    margin: float = 1.0             # its lead over the best rival elsewhere
    zip_type: str | None = None
    zip_active: bool | None = None
    timezone: str | None = None
    n_units: int = 0                # units the matched address has
    has_base: bool = True           # ... and whether it has a point of its own besides them
    unit_known: bool | None = None  # the unit written is one the address has (None: nothing to check)
    stratum: str | None = None      # which calibration map the confidence came from (``calibration.STRATA``)
    as_written: bool = False        # found by the street as written, not by the parser's typo reading
    #: the place the order names that has no street data loaded ("ZIP 06042", "MILLBROOK, AL", "GB"):
    #: the street could not be checked, so unmatched says nothing about whether it exists
    coverage_gap: str | None = None

    @property
    def outside_coverage(self) -> bool:
        return self.coverage_gap is not None
