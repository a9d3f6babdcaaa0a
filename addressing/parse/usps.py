"""USPS Publication 28 standardization tables (Appendix C1 suffixes, C2 units, states).

All keys are upper case without punctuation; values are the Pub 28 standard forms.
"""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def suffixes() -> dict[str, str]:
    """Street suffix written form -> Pub 28 abbreviation (Appendix C1), e.g. AVENUE -> AVE."""
    table = {}
    text = resources.files("addressing.parse").joinpath("tables/suffixes.tsv").read_text(encoding="utf-8")
    for line in text.splitlines():
        if not line or line.startswith("#") or line.startswith("variant\t"):
            continue
        variant, standard = line.split("\t")
        table[variant] = standard
    return table


@cache
def suffix_standards() -> frozenset[str]:
    return frozenset(suffixes().values())


@cache
def suffix_long_forms() -> dict[str, str]:
    """Pub 28 abbreviation -> its spelled-out primary name (AVE -> AVENUE)."""
    long: dict[str, str] = {}
    for variant, standard in suffixes().items():
        if variant != standard and (standard not in long or len(variant) > len(long[standard])):
            long[standard] = variant
    return long


DIRECTIONALS = {
    "N": "N",
    "S": "S",
    "E": "E",
    "W": "W",
    "NE": "NE",
    "NW": "NW",
    "SE": "SE",
    "SW": "SW",
    "NORTH": "N",
    "SOUTH": "S",
    "EAST": "E",
    "WEST": "W",
    "NORTHEAST": "NE",
    "NORTHWEST": "NW",
    "SOUTHEAST": "SE",
    "SOUTHWEST": "SW",
    "NO": "N",
    "SO": "S",
}
TWO_WORD_DIRECTIONALS = {
    ("NORTH", "EAST"): "NE",
    ("NORTH", "WEST"): "NW",
    ("SOUTH", "EAST"): "SE",
    ("SOUTH", "WEST"): "SW",
    ("N", "E"): "NE",
    ("N", "W"): "NW",
    ("S", "E"): "SE",
    ("S", "W"): "SW",
}
DIRECTIONAL_WORDS = {"N": "NORTH", "S": "SOUTH", "E": "EAST", "W": "WEST",
                     "NE": "NORTHEAST", "NW": "NORTHWEST", "SE": "SOUTHEAST", "SW": "SOUTHWEST"}

#: Appendix C2 secondary unit designators (and common variants) -> standard
UNIT_DESIGNATORS = {
    "APARTMENT": "APT", "APT": "APT", "APTS": "APT", "AP": "APT", "APPT": "APT",
    "BASEMENT": "BSMT", "BSMT": "BSMT",
    "BUILDING": "BLDG", "BLDG": "BLDG", "BLD": "BLDG", "BLDNG": "BLDG",
    "DEPARTMENT": "DEPT", "DEPT": "DEPT",
    "FLOOR": "FL", "FL": "FL", "FLR": "FL",
    "FRONT": "FRNT", "FRNT": "FRNT",
    "HANGAR": "HNGR", "HANGER": "HNGR", "HNGR": "HNGR",
    "KEY": "KEY",
    "LOBBY": "LBBY", "LBBY": "LBBY",
    "LOT": "LOT",
    "LOWER": "LOWR", "LOWR": "LOWR",
    "OFFICE": "OFC", "OFC": "OFC",
    "PENTHOUSE": "PH", "PH": "PH",
    "PIER": "PIER",
    "REAR": "REAR",
    "ROOM": "RM", "RM": "RM",
    "SIDE": "SIDE",
    "SLIP": "SLIP",
    "SPACE": "SPC", "SPC": "SPC",
    "STOP": "STOP",
    "SUITE": "STE", "STE": "STE", "SUIT": "STE", "SUITES": "STE",
    "TRAILER": "TRLR", "TRLR": "TRLR",
    "UNIT": "UNIT", "UNT": "UNIT",
    "UPPER": "UPPR", "UPPR": "UPPR",
    "#": "#", "NO": "#", "NUM": "#", "NUMBER": "#",
}
#: designators that take no value (Pub 28: BSMT, FRNT, LBBY, LOWR, OFC, PH, REAR, SIDE, UPPR)
UNIT_WITHOUT_VALUE = {"BSMT", "FRNT", "LBBY", "LOWR", "OFC", "PH", "REAR", "SIDE", "UPPR"}

STATES = {
    "AL": "ALABAMA", "AK": "ALASKA", "AZ": "ARIZONA", "AR": "ARKANSAS", "CA": "CALIFORNIA",
    "CO": "COLORADO", "CT": "CONNECTICUT", "DE": "DELAWARE", "DC": "DISTRICT OF COLUMBIA",
    "FL": "FLORIDA", "GA": "GEORGIA", "HI": "HAWAII", "ID": "IDAHO", "IL": "ILLINOIS",
    "IN": "INDIANA", "IA": "IOWA", "KS": "KANSAS", "KY": "KENTUCKY", "LA": "LOUISIANA",
    "ME": "MAINE", "MD": "MARYLAND", "MA": "MASSACHUSETTS", "MI": "MICHIGAN", "MN": "MINNESOTA",
    "MS": "MISSISSIPPI", "MO": "MISSOURI", "MT": "MONTANA", "NE": "NEBRASKA", "NV": "NEVADA",
    "NH": "NEW HAMPSHIRE", "NJ": "NEW JERSEY", "NM": "NEW MEXICO", "NY": "NEW YORK",
    "NC": "NORTH CAROLINA", "ND": "NORTH DAKOTA", "OH": "OHIO", "OK": "OKLAHOMA", "OR": "OREGON",
    "PA": "PENNSYLVANIA", "RI": "RHODE ISLAND", "SC": "SOUTH CAROLINA", "SD": "SOUTH DAKOTA",
    "TN": "TENNESSEE", "TX": "TEXAS", "UT": "UTAH", "VT": "VERMONT", "VA": "VIRGINIA",
    "WA": "WASHINGTON", "WV": "WEST VIRGINIA", "WI": "WISCONSIN", "WY": "WYOMING",
    "AS": "AMERICAN SAMOA", "GU": "GUAM", "MP": "NORTHERN MARIANA ISLANDS", "PR": "PUERTO RICO",
    "VI": "VIRGIN ISLANDS", "FM": "FEDERATED STATES OF MICRONESIA", "MH": "MARSHALL ISLANDS",
    "PW": "PALAU",
    "AA": "ARMED FORCES AMERICAS", "AE": "ARMED FORCES EUROPE", "AP": "ARMED FORCES PACIFIC",
}
MILITARY_STATES = {"AA", "AE", "AP"}
MILITARY_CITIES = {"APO", "FPO", "DPO"}

_STATE_VARIANTS = {
    "ALA": "AL", "ALAS": "AK", "ARIZ": "AZ", "ARK": "AR", "CALIF": "CA", "CAL": "CA", "COLO": "CO",
    "CONN": "CT", "DEL": "DE", "FLA": "FL", "ILL": "IL", "IND": "IN", "KANS": "KS", "KAN": "KS",
    "MASS": "MA", "MICH": "MI", "MINN": "MN", "MISS": "MS", "MONT": "MT", "NEBR": "NE", "NEB": "NE",
    "NEV": "NV", "OKLA": "OK", "OREG": "OR", "ORE": "OR", "PENN": "PA", "PENNA": "PA", "TENN": "TN",
    "TEX": "TX", "WASH": "WA", "WIS": "WI", "WISC": "WI", "WYO": "WY", "D C": "DC",
    "WASHINGTON DC": "DC", "WASHINGTON D C": "DC", "N Y": "NY", "N J": "NJ", "N C": "NC", "S C": "SC",
    "N D": "ND", "S D": "SD", "W VA": "WV", "N MEX": "NM", "CALI": "CA",
}


@cache
def state_lookup() -> dict[str, str]:
    """Any written form of a state (code, name, common abbreviation) -> USPS code."""
    table = {code: code for code in STATES}
    table.update({name: code for code, name in STATES.items()})
    table.update(_STATE_VARIANTS)
    return table


@cache
def state_max_words() -> int:
    return max(len(k.split()) for k in state_lookup())


ORDINAL_WORDS = {
    "FIRST": "1ST", "SECOND": "2ND", "THIRD": "3RD", "FOURTH": "4TH", "FIFTH": "5TH",
    "SIXTH": "6TH", "SEVENTH": "7TH", "EIGHTH": "8TH", "NINTH": "9TH", "TENTH": "10TH",
    "ELEVENTH": "11TH", "TWELFTH": "12TH", "THIRTEENTH": "13TH", "FOURTEENTH": "14TH",
    "FIFTEENTH": "15TH", "SIXTEENTH": "16TH", "SEVENTEENTH": "17TH", "EIGHTEENTH": "18TH",
    "NINETEENTH": "19TH", "TWENTIETH": "20TH", "THIRTIETH": "30TH", "FORTIETH": "40TH",
    "FIFTIETH": "50TH", "SIXTIETH": "60TH", "SEVENTIETH": "70TH", "EIGHTIETH": "80TH",
    "NINETIETH": "90TH", "HUNDREDTH": "100TH",
}
TENS_WORDS = {"TWENTY": 20, "THIRTY": 30, "FORTY": 40, "FIFTY": 50, "SIXTY": 60, "SEVENTY": 70,
              "EIGHTY": 80, "NINETY": 90}
UNIT_ORDINALS = {"FIRST": 1, "SECOND": 2, "THIRD": 3, "FOURTH": 4, "FIFTH": 5, "SIXTH": 6,
                 "SEVENTH": 7, "EIGHTH": 8, "NINTH": 9}


def ordinal_suffix(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return "TH"
    return {1: "ST", 2: "ND", 3: "RD"}.get(n % 10, "TH")


#: words in a street name that have a standard short form (kept out of suffix position)
NAME_WORDS = {
    "SAINT": "ST", "STE": "STE", "MOUNT": "MT", "FORT": "FT",
}

COUNTRY_NAMES = {
    "US": "US", "USA": "US", "U S A": "US", "U S": "US", "UNITED STATES": "US",
    "UNITED STATES OF AMERICA": "US", "AMERICA": "US",
    "CANADA": "CA", "MEXICO": "MX", "UNITED KINGDOM": "GB", "UK": "GB", "U K": "GB", "ENGLAND": "GB",
    "SCOTLAND": "GB", "WALES": "GB", "GREAT BRITAIN": "GB", "GERMANY": "DE", "DEUTSCHLAND": "DE",
    "FRANCE": "FR", "SPAIN": "ES", "ESPANA": "ES", "ITALY": "IT", "ITALIA": "IT", "NETHERLANDS": "NL",
    "THE NETHERLANDS": "NL", "NEDERLAND": "NL", "BELGIUM": "BE", "SWITZERLAND": "CH", "AUSTRIA": "AT",
    "OSTERREICH": "AT", "SWEDEN": "SE", "NORWAY": "NO", "DENMARK": "DK", "FINLAND": "FI",
    "IRELAND": "IE", "PORTUGAL": "PT", "POLAND": "PL", "CZECH REPUBLIC": "CZ", "CZECHIA": "CZ",
    "JAPAN": "JP", "CHINA": "CN", "INDIA": "IN", "AUSTRALIA": "AU", "NEW ZEALAND": "NZ",
    "BRAZIL": "BR", "BRASIL": "BR", "ARGENTINA": "AR", "SOUTH AFRICA": "ZA", "SINGAPORE": "SG",
    "SOUTH KOREA": "KR", "KOREA": "KR", "ISRAEL": "IL", "RUSSIA": "RU", "UKRAINE": "UA",
    "TURKEY": "TR", "GREECE": "GR", "HUNGARY": "HU", "ROMANIA": "RO", "COLOMBIA": "CO",
    "CHILE": "CL", "PERU": "PE", "PHILIPPINES": "PH", "INDONESIA": "ID", "THAILAND": "TH",
    "VIETNAM": "VN", "MALAYSIA": "MY", "HONG KONG": "HK", "TAIWAN": "TW", "EGYPT": "EG",
    "NIGERIA": "NG", "KENYA": "KE", "LUXEMBOURG": "LU", "ICELAND": "IS",
}
#: multi-word country names never end a US address; one-word ones that are also US states
#: or cities (GEORGIA, INDIANA...) are left out on purpose
