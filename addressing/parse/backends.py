"""usaddress and libpostal back ends, each mapped onto ``ParsedAddress`` and standardized.

usaddress answers for US input the rules parser cannot account for; libpostal answers for
other countries and where usaddress fails (``RepeatedLabelError``) or is unsure.
"""

from __future__ import annotations

import re

from addressing import libpostal_server
from addressing.parse import places, usps
from addressing.parse.rules import take_pmb
from addressing.parse.standardize import (
    house_number,
    read_misspelt,
    split_street,
    split_unit,
    state_code,
    tokens_of,
    unit_type,
    unit_value,
    zip_parts,
)
from addressing.schema import Kind, ParsedAddress

_US_STREET_LABELS = (
    "StreetNamePreModifier",
    "StreetNamePreDirectional",
    "StreetNamePreType",
    "StreetName",
    "StreetNamePostType",
    "StreetNamePostDirectional",
)
_SECOND_STREET = tuple(f"Second{label}" for label in _US_STREET_LABELS)


def _street_from_labels(tagged: dict, labels: tuple[str, ...], p: ParsedAddress | None = None) -> tuple:
    """The street of the labels, a misspelt type or directional read as one (noted on ``p``)."""
    words: list[str] = []
    for label in labels:
        if tagged.get(label):
            words += tokens_of(tagged[label])
    fixed, codes = read_misspelt(words)
    if codes and p is not None:
        p.corrections += codes
        p.as_written = split_street(words)
    return split_street(fixed)


def parse_usaddress(text: str) -> ParsedAddress | None:
    """usaddress's CRF, mapped to our fields; ``None`` when it gives up."""
    import usaddress

    try:
        tagged, kind = usaddress.tag(text)
    except usaddress.RepeatedLabelError:
        return None
    except Exception:  # noqa: BLE001 - a CRF failure on odd input must not end the batch
        return None
    p = ParsedAddress(parser="usaddress")
    number = " ".join(
        tagged[k] for k in ("AddressNumberPrefix", "AddressNumber", "AddressNumberSuffix") if tagged.get(k)
    )
    p.house_number = house_number(number) if number else None
    p.predirectional, p.street_name, p.street_type, p.postdirectional = _street_from_labels(
        tagged, _US_STREET_LABELS, p
    )
    pmb = _pop_pmb(tagged)
    occ_type = tagged.get("OccupancyType") or tagged.get("SubaddressType")
    occ_id = tagged.get("OccupancyIdentifier") or tagged.get("SubaddressIdentifier")
    if occ_type or occ_id:
        p.unit_type = unit_type(occ_type) or ("#" if occ_id else None)
        p.unit = unit_value(occ_id)
    box_type = (tagged.get("USPSBoxType") or "").upper()
    box_id = tagged.get("USPSBoxID")
    group_type = (tagged.get("USPSBoxGroupType") or "").upper()
    group_id = tagged.get("USPSBoxGroupID")
    if group_type and group_id:
        words = tokens_of(group_type)
        label = "HC" if words and words[0] in ("HC", "HCR", "HIGHWAY", "STAR") else (
            words[0] if words and words[0] in ("PSC", "CMR", "UNIT") else "RR")
        p.street_name = f"{label} {' '.join(tokens_of(group_id))}"
        p.kind = {"HC": Kind.HIGHWAY_CONTRACT, "RR": Kind.RURAL_ROUTE}.get(label, Kind.MILITARY).value
        p.po_box = " ".join(tokens_of(box_id)) if box_id else None
    elif box_id:
        p.po_box = " ".join(tokens_of(box_id))
        p.kind = Kind.PO_BOX.value
    elif "GENERAL DELIVERY" in box_type:
        p.kind = Kind.GENERAL_DELIVERY.value
    if pmb and p.po_box is None:
        p.po_box, p.pmb = pmb, True
    p.city = " ".join(tokens_of(tagged.get("PlaceName", ""))) or None
    p.state = state_code(tagged.get("StateName"))
    p.postal_code, p.zip4 = zip_parts(tagged.get("ZipCode"))
    p.country = "US"
    for label in ("Recipient", "BuildingName", "LandmarkName"):
        if tagged.get(label):
            p.building = " ".join(tokens_of(tagged[label]))
    if tagged.get("NotAddress"):
        p.notes.append(f"not address: {tagged['NotAddress']}")
    if kind == "Intersection" or tagged.get("IntersectionSeparator"):
        second = _street_from_labels(tagged, _SECOND_STREET)
        if second[1]:
            p.kind = Kind.INTERSECTION.value
            p.intersecting_street = " ".join(x for x in second if x)
    if p.kind == Kind.NONE.value:
        if p.house_number and p.street_name:
            p.kind = Kind.STREET.value
        elif p.city or p.postal_code:
            p.kind = Kind.LOCALITY_ONLY.value
    if p.state is None and p.postal_code:
        info = places.zip_info(p.postal_code)
        if info:
            p.state = info.state
            p.corrections.append("state_inferred")
    if p.city in usps.MILITARY_CITIES and p.kind == Kind.PO_BOX.value:
        p.kind = Kind.MILITARY.value
    return p


#: (type label, identifier label) pairs usaddress puts a private mailbox under
_PMB_LABELS = (("SubaddressType", "SubaddressIdentifier"), ("USPSBoxType", "USPSBoxID"))
_PMB_WORDS = {"PMB", "PRIVATE MAILBOX", "PRIVATE MAIL BOX"}
_PMB_GLUED = re.compile(r"^PMB\s*#?\s*(\d+[A-Z]?)$")


def _pop_pmb(tagged: dict) -> str | None:
    """The private mailbox number usaddress found, its labels taken out of ``tagged`` (so they
    are not read as a unit or a PO box): ``PMB 512`` as a subaddress, ``Private Mailbox 512`` as a
    USPS box, ``PMB512`` as an occupancy identifier. ``None`` when there is none."""
    for type_label, id_label in _PMB_LABELS:
        words = " ".join(tokens_of(tagged.get(type_label) or ""))
        box = " ".join(tokens_of(tagged.get(id_label) or "")).strip("# ")
        if words in _PMB_WORDS and box:
            del tagged[type_label], tagged[id_label]
            if tagged.get("OccupancyIdentifier", "").strip() == "#" and not tagged.get("OccupancyType"):
                del tagged["OccupancyIdentifier"]  # "# PMB 512": the "#" belongs to the box
            return box
    glued = _PMB_GLUED.match(" ".join(tokens_of(tagged.get("OccupancyIdentifier") or "")))
    if glued and not tagged.get("OccupancyType"):
        del tagged["OccupancyIdentifier"]
        return glued.group(1)
    return None


def usaddress_is_sure(p: ParsedAddress | None) -> bool:
    """usaddress gave a usable US reading: a street with a number, or a box, with a last line."""
    if p is None:
        return False
    if p.kind == Kind.STREET.value and not (p.house_number and p.street_name):
        return False
    if p.kind == Kind.NONE.value:
        return False
    if p.house_number and not re.search(r"\d", p.house_number):
        return False
    return bool(p.state or p.postal_code or p.city)


def parse_libpostal(text: str, country: str | None = None) -> ParsedAddress:
    """libpostal's parser, mapped to our fields. US roads are split into Pub 28 parts."""
    return libpostal_reading(libpostal_server.labels([libpostal_request(text, country)])[0], country)


def libpostal_request(text: str, country: str | None) -> tuple[str, str | None]:
    """What libpostal is asked for ``text`` (``libpostal_server.labels``)."""
    return text, country.lower() if country else None


def libpostal_reading(labels: list[tuple[str, str]], country: str | None = None) -> ParsedAddress:
    """libpostal's labels of a string, mapped to our fields (``parse_libpostal``)."""
    got: dict[str, str] = {}
    for value, label in labels:
        got[label] = f"{got[label]} {value}" if label in got else value
    p = ParsedAddress(parser="libpostal")
    cc = (country or "").upper() or _country_code(got.get("country"))
    is_us = cc in ("", "US") and (state_code(got.get("state")) or zip_parts(got.get("postcode"))[0])
    p.country = "US" if is_us else (cc or None)
    p.house_number = house_number(got.get("house_number"))
    road = got.get("road")
    if road:
        if p.country == "US":
            words = take_pmb(tokens_of(road), p)  # libpostal leaves "PMB 512" at the end of the road
            p.predirectional, p.street_name, p.street_type, p.postdirectional = split_street(words)
        else:
            p.street_name = " ".join(tokens_of(road)) or None
    unit = got.get("unit") or got.get("level")
    if unit:
        p.unit_type, p.unit = split_unit(unit)
    if got.get("po_box"):
        _libpostal_box(got["po_box"], p)
    p.city = " ".join(tokens_of(got.get("city") or got.get("city_district") or got.get("suburb") or "")) or None
    if p.country == "US":
        p.state = state_code(got.get("state"))
        p.postal_code, p.zip4 = zip_parts(got.get("postcode"))
        if p.state is None and p.postal_code:
            info = places.zip_info(p.postal_code)
            p.state = info.state if info else None
    else:
        p.state = " ".join(tokens_of(got.get("state", ""))) or None
        p.postal_code = " ".join(tokens_of(got.get("postcode", ""))) or None
    if got.get("house"):
        p.building = " ".join(tokens_of(got["house"]))
    if p.kind == Kind.NONE.value:
        if p.street_name:
            p.kind = Kind.STREET.value
        elif p.city or p.postal_code:
            p.kind = Kind.LOCALITY_ONLY.value
    return p


def _libpostal_box(text: str, p: ParsedAddress) -> None:
    """libpostal's ``po_box``: a post office box, or a private mailbox it labels the same way."""
    take_pmb(tokens_of(text), p)
    if p.pmb:
        return
    box = re.sub(r"(?i)^\s*(p\.?\s*o\.?\s*)?(box|bx)\s*#?\s*", "", text)
    p.po_box = " ".join(tokens_of(box)) or None
    p.kind = Kind.PO_BOX.value


def _country_code(name: str | None) -> str:
    if not name:
        return ""
    key = " ".join(tokens_of(name))
    if key in usps.COUNTRY_NAMES:
        return usps.COUNTRY_NAMES[key]
    if len(key) == 2 and key.isalpha():
        return key
    return ""
