"""The one model between stages: parsed components, output record fields, enums, Arrow schema."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum

import pyarrow as pa


class MatchStatus(str, Enum):
    MATCHED = "matched"
    AMBIGUOUS = "ambiguous"
    UNMATCHED = "unmatched"
    INVALID = "invalid"


class Precision(str, Enum):
    DELIVERY_POINT = "delivery_point"    # learned from proof of delivery (``addressing.deliveries``)
    ADDRESS_POINT = "address_point"
    INTERPOLATED = "interpolated"
    STREET = "street"
    POSTAL_CODE = "postal_code"
    LOCALITY = "locality"
    NONE = "none"


#: precisions from best to worst; index = rank
PRECISION_ORDER = [p.value for p in Precision]


class Kind(str, Enum):
    """What sort of delivery line the address has."""

    STREET = "street"
    PO_BOX = "po_box"
    RURAL_ROUTE = "rural_route"
    HIGHWAY_CONTRACT = "highway_contract"
    MILITARY = "military"
    GENERAL_DELIVERY = "general_delivery"
    INTERSECTION = "intersection"
    LOCALITY_ONLY = "locality_only"
    NONE = "none"


class RiskFlag(str, Enum):
    """The codes of ``risk_flags``, one per rule of the risk policy (``addressing.risk.config.RULES``,
    in this order: among flags of one severity, a record lists them in this order)."""

    INVALID_ADDRESS = "invalid_address"
    UNDELIVERABLE = "undeliverable"          # checked, and does not exist
    OUTSIDE_COVERAGE = "outside_coverage"    # no street data loaded there: could not be checked
    AMBIGUOUS_MATCH = "ambiguous_match"
    LOW_CONFIDENCE = "low_confidence"
    PO_BOX = "po_box"
    PMB = "pmb"                              # a private mailbox at a mail receiving agency
    MILITARY = "military"
    GENERAL_DELIVERY = "general_delivery"
    PO_BOX_ONLY_ZIP = "po_box_only_zip"
    UNIQUE_ZIP = "unique_zip"
    INACTIVE_ZIP = "inactive_zip"
    MISSING_UNIT = "missing_unit"
    UNKNOWN_UNIT = "unknown_unit"
    OUTSIDE_SERVICE_AREA = "outside_service_area"
    HIGH_RISK_ZONE = "high_risk_zone"
    FORWARDER = "forwarder"
    SHARED_ADDRESS = "shared_address"
    CORRECTED_HEAVILY = "corrected_heavily"
    CONFIRMATION_CONTRADICTED = "confirmation_contradicted"  # an operator's confirmed address the gazetteer lost
    OPERATOR_HOLD = "operator_hold"          # an operator held this address before
    FAILED_BEFORE = "failed_before"          # deliveries to this address failed recently (proof of delivery)


class RiskLevel(str, Enum):
    NONE = "none"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Action(str, Enum):
    DELIVER = "deliver"
    REVIEW = "review"
    HOLD = "hold"


COMPONENTS = (
    "house_number",
    "predirectional",
    "street_name",
    "street_type",
    "postdirectional",
    "unit_type",
    "unit",
    "po_box",
    "city",
    "state",
    "postal_code",
    "zip4",
    "country",
)


@dataclass(slots=True)
class ParsedAddress:
    """Standardized components of one address, as the parse stage hands them on.

    ``parser`` says which back end answered (``rules``, ``usaddress``, ``libpostal``);
    ``invalid_reason`` is set when the text is not an address at all. ``pmb`` says that
    ``po_box`` is a private mailbox (``PMB 512``) at a commercial mail receiving agency, beside
    a street address, not a post office box.
    """

    house_number: str | None = None
    predirectional: str | None = None
    street_name: str | None = None
    street_type: str | None = None
    postdirectional: str | None = None
    unit_type: str | None = None
    unit: str | None = None
    po_box: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    zip4: str | None = None
    country: str | None = None
    kind: str = Kind.NONE.value
    pmb: bool = False
    building: str | None = None
    intersecting_street: str | None = None
    #: (predirectional, name, type, postdirectional) as written, when a misspelt street type or
    #: directional was read as one (``MAIN STREEET``): the matcher tries this reading too, since a
    #: street may really be called ``JOHN GLENN``
    as_written: tuple | None = None
    notes: list[str] = field(default_factory=list)
    corrections: list[str] = field(default_factory=list)
    parser: str = ""
    invalid_reason: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)

    def line1(self) -> str | None:
        """The standardized delivery line (Pub 28 order)."""
        if self.kind in (Kind.PO_BOX.value,) and self.po_box:
            return f"PO BOX {self.po_box}"
        if self.kind == Kind.GENERAL_DELIVERY.value:
            return "GENERAL DELIVERY"
        parts = [
            self.house_number,
            self.predirectional,
            self.street_name,
            self.street_type,
            self.postdirectional,
        ]
        if self.kind == Kind.INTERSECTION.value and self.intersecting_street:
            parts += ["&", self.intersecting_street]
        if self.kind in (Kind.RURAL_ROUTE.value, Kind.HIGHWAY_CONTRACT.value, Kind.MILITARY.value) and self.po_box:
            parts += ["BOX", self.po_box]
        if self.unit_type or self.unit:
            parts += [self.unit_type, self.unit]
        if self.pmb and self.po_box:
            parts += ["PMB", self.po_box]
        text = " ".join(p for p in parts if p)
        return text or None

    def line2(self) -> str | None:
        """The standardized last line: CITY ST ZIP[-ZIP4], with the country when not US."""
        zip_part = self.postal_code
        if zip_part and self.zip4:
            zip_part = f"{zip_part}-{self.zip4}"
        parts = [self.city, self.state, zip_part]
        if self.country and self.country != "US":
            parts.append(self.country)
        text = " ".join(p for p in parts if p)
        return text or None


#: output record columns after the passthrough columns, in contract order
OUTPUT_FIELDS: list[tuple[str, pa.DataType]] = [
    ("input", pa.string()),
    ("house_number", pa.string()),
    ("predirectional", pa.string()),
    ("street_name", pa.string()),
    ("street_type", pa.string()),
    ("postdirectional", pa.string()),
    ("unit_type", pa.string()),
    ("unit", pa.string()),
    ("po_box", pa.string()),
    ("city", pa.string()),
    ("state", pa.string()),
    ("postal_code", pa.string()),
    ("zip4", pa.string()),
    ("country", pa.string()),
    ("line1", pa.string()),
    ("line2", pa.string()),
    ("match_status", pa.string()),
    ("precision", pa.string()),
    ("confidence", pa.float64()),
    ("lat", pa.float64()),
    ("lon", pa.float64()),
    ("corrections", pa.list_(pa.string())),
    ("risk_flags", pa.list_(pa.string())),
    ("risk_level", pa.string()),
    ("action", pa.string()),
    ("risk_reasons", pa.list_(pa.string())),
    ("timezone", pa.string()),
    ("delivery_window", pa.string()),
    (
        "candidates",
        pa.list_(
            pa.struct(
                [
                    ("line1", pa.string()),
                    ("line2", pa.string()),
                    ("score", pa.float64()),
                    ("lat", pa.float64()),
                    ("lon", pa.float64()),
                ]
            )
        ),
    ),
    ("notes", pa.list_(pa.string())),
    ("reason", pa.string()),
    ("parser", pa.string()),
    ("gazetteer_version", pa.string()),
    # provenance: the id of the operator decision the result was taken from (``operator_confirmed``),
    # or that held it again or was contradicted (``addressing.confirmations``); null for the rest
    ("confirmation", pa.string()),
]

OUTPUT_NAMES = [name for name, _ in OUTPUT_FIELDS]


def output_schema(passthrough: pa.Schema) -> pa.Schema:
    """The output schema: ``order_id`` and passthrough columns first, then the record fields."""
    fields = [f for f in passthrough if f.name not in OUTPUT_NAMES]
    return pa.schema(fields + [pa.field(n, t) for n, t in OUTPUT_FIELDS])
