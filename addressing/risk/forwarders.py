"""Known freight forwarders, reshippers and commercial mail-receiving agencies.

The list is a CSV (``name,address``). Its addresses go through the same parser and the same
standardized key as the orders (``address_key``), so ``Ste 100``, ``Suite 100`` and ``#100`` are
one address. A component the list leaves out is a wildcard: an entry without a unit covers the
whole building, one without a street type or directional matches whatever the gazetteer says.

>>> f = Forwarders.from_keys({"1390||MARKET|ST||200|94102": "Acme Reship"})
>>> f.lookup([address_key("1390", None, "MARKET", "ST", None, "200", None, "94102"),
...           address_key("1390", None, "MARKET", "ST", None, "201", None, "94102"), None])
['Acme Reship', None, None]
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from addressing.errors import ConfigError
from addressing.gazetteer.keys import name_key

_NON_ALNUM = re.compile(r"[^A-Z0-9]")


def unit_key(unit: str | None) -> str:
    """``#0100``, ``100`` and ``1-00`` are one unit; the designator (APT, STE, #) is not part of it."""
    if not unit:
        return ""
    key = _NON_ALNUM.sub("", str(unit).upper())
    return (key.lstrip("0") or key) if key.isdigit() else key


def address_key(house_number, predir, street_name, street_type, postdir, unit, po_box, postal_code) -> str | None:
    """Standardized address identity: ``number|predir|street|type|postdir|unit|zip5``.

    The unit designator is left out (so ``STE 100`` = ``#100``) and the street name is folded
    as the gazetteer folds it (``SAINT``/``ST``). PO boxes key as ``BOX|number|zip5``.

    >>> address_key("1390", None, "Market", "ST", None, "#0200", None, "94102-1234")
    '1390||MARKET|ST||200|94102'
    >>> address_key(None, None, None, None, None, None, None, None) is None
    True
    """
    zip5 = (postal_code or "")[:5]
    if po_box and not street_name:
        return f"BOX|{unit_key(po_box)}|{zip5}"
    if not (house_number and street_name):
        return None
    return "|".join((str(house_number).upper(), predir or "", name_key(street_name), street_type or "",
                     postdir or "", unit_key(unit), zip5))


@dataclass
class Forwarders:
    #: (number, street key, zip5) -> [(predir, type, postdir, unit, name)]; boxes by their whole key
    by_street: dict[tuple[str, str, str], list[tuple[str, str, str, str, str]]] = field(default_factory=dict)
    by_box: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_street.values()) + len(self.by_box)

    @classmethod
    def from_keys(cls, keys: dict[str, str]) -> Forwarders:
        out = cls()
        for key, name in keys.items():
            parts = key.split("|")
            if parts[0] == "BOX":
                out.by_box[key] = name
            else:
                number, pre, street, typ, post, unit, zip5 = parts
                out.by_street.setdefault((number, street, zip5), []).append((pre, typ, post, unit, name))
        return out

    @classmethod
    def from_csv(cls, path: Path) -> Forwarders:
        """Read and check the list; every address must parse to a street address or box with a ZIP."""
        from addressing.parse import parse_batch

        if not path.is_file():
            raise ConfigError("forwarder list not found", path=str(path))
        try:
            with open(path, encoding="utf-8", newline="") as f:
                reader = csv.DictReader(f)
                rows = list(reader)
                header = reader.fieldnames or []
        except (UnicodeDecodeError, csv.Error) as exc:
            raise ConfigError(f"forwarder list unreadable ({exc})", path=str(path)) from exc
        if not {"name", "address"} <= set(header):
            raise ConfigError(f"forwarder list needs columns name,address (has {','.join(header) or 'none'})",
                              path=str(path))
        parsed = parse_batch([r["address"] for r in rows])
        keys: dict[str, str] = {}
        for line, (r, p) in enumerate(zip(rows, parsed), start=2):
            name = (r.get("name") or "").strip()
            if not name:
                raise ConfigError(f"line {line}: forwarder without a name", path=str(path))
            if p.invalid_reason:
                raise ConfigError(f"line {line}: forwarder {name!r}: address unreadable ({p.invalid_reason})",
                                  path=str(path))
            key = address_key(p.house_number, p.predirectional, p.street_name, p.street_type, p.postdirectional,
                              p.unit, p.po_box, p.postal_code)
            if key is None or not p.postal_code:
                raise ConfigError(f"line {line}: forwarder {name!r}: {r['address']!r} needs a house number, street "
                                  "and ZIP code (or a box and ZIP code)", path=str(path))
            keys[key] = name
        return cls.from_keys(keys)

    def lookup(self, keys: list[str | None]) -> list[str | None]:
        """The forwarder's name for each order's address key, or None."""
        out: list[str | None] = []
        for k in keys:
            name = None
            if k:
                parts = k.split("|")
                if parts[0] == "BOX":
                    name = self.by_box.get(k)
                elif len(parts) == 7:
                    for pre, typ, post, unit, entry in self.by_street.get((parts[0], parts[2], parts[6]), ()):
                        if ((not pre or pre == parts[1]) and (not typ or typ == parts[3])
                                and (not post or post == parts[4]) and (not unit or unit == parts[5])):
                            name = entry
                            break
            out.append(name)
        return out
