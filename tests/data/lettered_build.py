"""Build ``tests/data/parse_lettered_streets.jsonl``: real addresses on streets named by one letter.

Source: the labeled training XML in the usaddress source distribution (``usaddress-0.5.16.tar.gz``
on PyPI, MIT licence; ``training/*.xml``), where 4,776 addresses have a one-letter ``StreetName``
with a ``StreetNamePostType``: Washington DC (``1800 M Street, NW``), Linn County, IA (Cedar
Rapids' ``J St SW``, ``E Ave NW``, Walford's ``B St NE``: OpenAddresses points) and a few others.
Kept: every case outside the Linn County file, and from it one case per distinct (letter, type,
directionals, city) so that no pattern dominates. Labels are usaddress's, put in Pub 28 form; two
cases are left out: ``32 233 M Street Elmendorf Afb AK 99506`` (two numbers; which one is the house
is a guess) and ``4174 C Avenue Ext`` (a type followed by EXT, which the label drops), and one
label is corrected: ``613 K Street Northwest`` labels ``Northwest`` as a pre-directional.

Regenerate (deterministic)::

    pip download usaddress==0.5.16 --no-binary :all: --no-deps   # or fetch the sdist from PyPI
    tar xzf usaddress-0.5.16.tar.gz
    .venv/bin/python tests/data/lettered_build.py usaddress-0.5.16/training
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from addressing.parse import usps  # noqa: E402
from addressing.parse.standardize import tokens_of  # noqa: E402

OUT = HERE / "parse_lettered_streets.jsonl"
LEFT_OUT = ("32 233 M Street", "4174 C Avenue Ext")
LABEL_FIXES = {"613 K Street Northwest": {"predirectional": None, "postdirectional": "NW"}}


def _value(toks: list[tuple[str, str]], tag: str) -> str | None:
    return " ".join(tokens_of(" ".join(t for g, t in toks if g == tag))) or None


def cases(training: Path) -> list[dict]:
    out: list[dict] = []
    seen: set[tuple] = set()
    for f in sorted(training.glob("*.xml")):
        text = f.read_text(encoding="utf-8", errors="replace")
        for raw in re.findall(r"<AddressString>(.*?)</AddressString>", text, re.S):
            toks = re.findall(r"<(\w+)>(.*?)</\1>", raw)
            tags = {g for g, _ in toks}
            name = _value(toks, "StreetName")
            typ = _value(toks, "StreetNamePostType")
            if not (name and len(name) == 1 and name.isalpha() and typ in usps.suffixes() and "AddressNumber" in tags):
                continue
            line = " ".join(t for _, t in toks)
            if line.startswith(LEFT_OUT):
                continue
            pre, post = _value(toks, "StreetNamePreDirectional"), _value(toks, "StreetNamePostDirectional")
            label = {"house_number": _value(toks, "AddressNumber"),
                     "predirectional": usps.DIRECTIONALS.get((pre or "").replace(" ", "")),
                     "street_name": name, "street_type": usps.suffixes()[typ],
                     "postdirectional": usps.DIRECTIONALS.get((post or "").replace(" ", ""))}
            for prefix, fix in LABEL_FIXES.items():
                if line.startswith(prefix):
                    label.update(fix)
            pattern = (name, typ, pre, post, _value(toks, "PlaceName"))
            if f.name.startswith("openaddress_") and pattern in seen:
                continue
            seen.add(pattern)
            out.append({"source": f"usaddress-0.5.16/training/{f.name}", "input": line, "expected": label})
    return out


if __name__ == "__main__":
    rows = cases(Path(sys.argv[1]))
    OUT.write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"{len(rows)} cases -> {OUT}")
