"""Every risk rule, positive and negative, on realistic records through the real pipeline:
the demo gazetteer (San Francisco EAS address points, Autauga County TIGER ranges, the US ZIP
table from ``zipcodes``) and the demo policy with its real polygon and forwarder files."""

from __future__ import annotations

import pyarrow as pa
import pytest

from addressing.demo import DATA as DEMO
from addressing.pipeline import clean_table, review_table
from addressing.risk import assess, load_risk

GOOD = "7 Octavia St, San Francisco, CA 94102"  # an address point in the service area, no unit building

#: no street data loaded for the place each names, so nothing says the address does not exist
UNCOVERED = [
    "350 Fifth Avenue, New York, NY 10118",  # neither its state nor its ZIP
    "12 Main St, Manchester, CT 06042",
    "1 Nowhere St, San Francisco, CA 94105",  # a covered town, but its ZIP has no streets loaded
    "1 Nowhere St, Millbrook, AL 36067",  # a covered ZIP, but the town named is elsewhere and has none
    "10 Downing Street, London SW1A 2AA, United Kingdom",  # no street data abroad
]

#: private mailboxes, in the forms orders write them
PMB = [
    "1 Market St PMB 512, San Francisco, CA 94105",
    "7 Octavia St PMB # 512, San Francisco, CA 94102",
    "7 Octavia St # PMB 512, San Francisco, CA 94102",
    "7 Octavia St Private Mailbox 512, San Francisco, CA 94102",
]

#: rule -> (records that must raise it, records that must not)
CASES = {
    "invalid_address": (["'; DROP TABLE orders; --", "????"], [GOOD]),
    "undeliverable": (["151 3rd St, San Francisco, CA 94103",  # street not in the gazetteer: ZIP centroid only
                       "12 Lombart St, San Francisco, CA 94102",  # misspelt, and no such street in a covered ZIP
                       "12 Main St, Manchester, CT 99999",  # no street data there, but the ZIP does not exist
                       "1 Nowhere St, San Francisco, CA 10118",  # a New York ZIP: the covered town was searched
                       "100 Nowhere St, San Francisco, CA 94119"],  # a PO-box ZIP has no streets to load
                      [GOOD, "PO Box 3344, Prattville, AL 36068", "1047 Spring St, Prattville, AL 36067",
                       *UNCOVERED]),
    "outside_coverage": (UNCOVERED,
                         [GOOD, "151 3rd St, San Francisco, CA 94103", "12 Lombart St, San Francisco, CA 94102",
                          "1 Nowhere St, Prattville, AL 36067", "12 Main St, Manchester, CT 99999",
                          "PO Box 3344, Prattville, AL 36068",
                          "PO Box 12, New York, NY 10118"]),  # a box is validated by its ZIP alone
    "ambiguous_match": (["227 Autauga County 1, AL"],  # the same road name in two ZIPs, both ranges hold 227
                        [GOOD, "151 3rd St, San Francisco, CA 94103", "450 S Northington St, Prattville, AL 36067"]),
    "po_box": (["PO Box 3344, Prattville, AL 36068", "P.O. Box 77, San Francisco, CA 94119"],
               [GOOD, "General Delivery, Prattville, AL 36067", "PSC 802 Box 74, APO AE 09499", *PMB]),
    "pmb": (PMB, [GOOD, "PO Box 3344, Prattville, AL 36068", "525 Gough St Apt 101, San Francisco, CA 94102"]),
    "military": (["PSC 802 Box 74, APO AE 09499", "USS Nimitz, FPO AP 96620"],
                 [GOOD, "PO Box 3344, Prattville, AL 36068"]),
    "general_delivery": (["General Delivery, Prattville, AL 36067"], [GOOD, "PO Box 3344, Prattville, AL 36068"]),
    "po_box_only_zip": (["999 Nonexistent Rd, Prattville, AL 36068", "100 Nowhere St, San Francisco, CA 94119"],
                        ["PO Box 3344, Prattville, AL 36068", "1 Nowhere St, San Francisco, CA 94102"]),
    "unique_zip": (["1 Nowhere St, San Francisco, CA 94137"], ["1 Nowhere St, San Francisco, CA 94102", GOOD]),
    "inactive_zip": (["1 Nowhere St, San Francisco, CA 94101", "PSC 802 Box 74, APO AE 09499"],
                     ["1 Nowhere St, San Francisco, CA 94102", "Unit 2050 Box 153, APO AP 96278"]),
    "missing_unit": (["525 Gough St, San Francisco, CA 94102"],  # 21 units, no address for the building itself
                     ["525 Gough St Apt 101, San Francisco, CA 94102", GOOD,
                      "380 10th St, San Francisco, CA 94103"]),  # 31 units, but the building is an address too
    "unknown_unit": (["525 Gough St Apt 9999, San Francisco, CA 94102"],
                     ["525 Gough St Apt 101, San Francisco, CA 94102", "525 Gough St, San Francisco, CA 94102"]),
    "outside_service_area": (["350 Fifth Avenue, New York, NY 10118",
                              "510 Autauga County 20, Marbury, AL 36051"],  # rural Autauga, beyond the depot
                             [GOOD, "1047 Spring St, Prattville, AL 36067", "'; DROP TABLE orders; --"]),
    "high_risk_zone": (["490 McAllister St, San Francisco, CA 94102"], [GOOD, "350 Fifth Avenue, New York, NY 10118"]),
    "forwarder": (["1390 Market St #200, San Francisco, CA 94102",  # whole-building entry covers its suites
                   "1047 Spring Street, Prattville, AL 36067"],
                  [GOOD, "1046 Spring St, Prattville, AL 36067", "819 Van Ness Ave, San Francisco, CA 94109"]),
}


def orders(addresses: list[str], **columns: list) -> pa.Table:
    data = {"order_id": [f"T{i:03d}" for i in range(len(addresses))], "address": addresses}
    data.update(columns)
    return pa.table({k: pa.array(v, pa.string()) for k, v in data.items()})


def clean(gaz, ctx, addresses: list[str], **columns: list) -> dict[str, dict]:
    rows = clean_table(orders(addresses, **columns), gaz, ctx).to_pylist()
    return {r["input"]: r for r in rows}


@pytest.fixture(scope="module")
def cleaned(gaz, risk_ctx) -> dict[str, dict]:
    every = sorted({a for pos, neg in CASES.values() for a in pos + neg})
    return clean(gaz, risk_ctx, every)


@pytest.mark.parametrize("rule", list(CASES))
def test_rule_fires_on_positive_records(rule, cleaned):
    for address in CASES[rule][0]:
        row = cleaned[address]
        assert rule in row["risk_flags"], (address, row["risk_flags"], row["match_status"], row["precision"])
        reason = row["risk_reasons"][row["risk_flags"].index(rule)]
        assert reason and "{" not in reason


@pytest.mark.parametrize("rule", list(CASES))
def test_rule_stays_silent_on_negative_records(rule, cleaned):
    for address in CASES[rule][1]:
        assert rule not in cleaned[address]["risk_flags"], (address, cleaned[address]["risk_flags"])


def test_clean_record_is_delivered(cleaned):
    row = cleaned[GOOD]
    assert (row["risk_flags"], row["risk_level"], row["action"]) == ([], "none", "deliver")


def test_reasons_say_why(cleaned):
    def reason(address, rule):
        row = cleaned[address]
        return row["risk_reasons"][row["risk_flags"].index(rule)]

    assert "21 units" in reason("525 Gough St, San Francisco, CA 94102", "missing_unit")
    assert "9999" in reason("525 Gough St Apt 9999, San Francisco, CA 94102", "unknown_unit")
    assert "36068" in reason("999 Nonexistent Rd, Prattville, AL 36068", "po_box_only_zip")
    assert "package theft" in reason("490 McAllister St, San Francisco, CA 94102", "high_risk_zone")
    assert "Demo reshipper A" in reason("1390 Market St #200, San Francisco, CA 94102", "forwarder")
    assert "3RD" in reason("151 3rd St, San Francisco, CA 94103", "undeliverable")
    assert "ZIP 99999 does not exist" in reason("12 Main St, Manchester, CT 99999", "undeliverable")
    assert reason("12 Main St, Manchester, CT 06042", "outside_coverage") == (
        "no street data loaded for ZIP 06042: the address could not be checked")
    assert "for ZIP 94105:" in reason("1 Nowhere St, San Francisco, CA 94105", "outside_coverage")
    assert "for MILLBROOK, AL:" in reason("1 Nowhere St, Millbrook, AL 36067", "outside_coverage")
    assert "for GB:" in reason("10 Downing Street, London SW1A 2AA, United Kingdom", "outside_coverage")
    for address in PMB:
        assert reason(address, "pmb").startswith("private mailbox 512: ") and "mailbox store" in reason(address, "pmb")


def test_level_is_the_worst_flag_and_flags_come_worst_first(cleaned, risk_ctx):
    sev = {c: r.severity for c, r in risk_ctx.policy.rules.items()}
    rank = ("none", "low", "medium", "high").index
    multi = [r for r in cleaned.values() if len(r["risk_flags"]) > 1]
    assert len(multi) >= 3
    for r in cleaned.values():
        levels = [sev[f] for f in r["risk_flags"]]
        assert r["risk_level"] == max(levels, key=rank, default="none")
        assert [rank(v) for v in levels] == sorted((rank(v) for v in levels), reverse=True)
        assert r["action"] == risk_ctx.policy.action_for[r["risk_level"]]


def test_timezone_and_local_delivery_window_from_the_zip(cleaned):
    sf, al = cleaned[GOOD], cleaned["1047 Spring St, Prattville, AL 36067"]
    assert (sf["timezone"], sf["delivery_window"]) == ("America/Los_Angeles", "08:00-20:00 America/Los_Angeles")
    assert (al["timezone"], al["delivery_window"]) == ("America/Chicago", "08:00-20:00 America/Chicago")
    ny = cleaned["350 Fifth Avenue, New York, NY 10118"]  # unmatched, but its ZIP still says where
    assert ny["timezone"] == "America/New_York"
    mil = cleaned["PSC 802 Box 74, APO AE 09499"]  # military ZIPs carry no time zone
    assert mil["timezone"] is None and mil["delivery_window"] is None
    assert cleaned["????"]["delivery_window"] is None


# --------------------------------------------------------------------------- policy knobs


def policy(tmp_path, text: str):
    path = tmp_path / "risk.toml"
    path.write_text(text.replace("DEMO", str(DEMO)))
    return load_risk(path)


#: messy real addresses (typos, wrong or missing ZIP and city, wrong street type): how sure the
#: matcher is of each, and how much it changed, is the matcher's business; the rules must follow it
MESSY = [
    "129 Counntry Club Dr, Prattville, AL 36067", "1160 mission st 94109", "55 page st 36051", "170 fell st 36067",
    "1 Autauga Cnty Rd 20, Marbury AL 36051", "525 gough ave 94103", "1390 markt st san fran", "7 octavia blvd 36067",
    "490 mc allister 94109", "140 s van ness 94102", "1047 sprng street prattvile al", "818 van nes st 94103",
    "380 10th av 94102", "30 dore 94102", "74 brady ave prattville al 36067", "1581 howerd st ste 3 94109",
]


def test_low_confidence_follows_the_threshold(tmp_path, gaz):
    """Flagged exactly when matched below the threshold; raising it flags more, lowering it fewer."""
    flagged = {}
    for t in (0.3, 0.8, 0.99):
        rows = clean(gaz, policy(tmp_path, f"[rules.low_confidence]\nthreshold = {t}\n"), MESSY + [GOOD])
        for r in rows.values():
            expect = r["match_status"] == "matched" and r["confidence"] < t
            assert ("low_confidence" in r["risk_flags"]) == expect, (t, r["input"], r["confidence"])
            if expect:
                reason = r["risk_reasons"][r["risk_flags"].index("low_confidence")]
                assert f"{r['confidence']:.2f}" in reason and str(t) in reason
        flagged[t] = {a for a, r in rows.items() if "low_confidence" in r["risk_flags"]}
    assert flagged[0.3] <= flagged[0.8] < flagged[0.99]  # some messy record is matched but not certain
    assert GOOD not in flagged[0.8]


def test_corrected_heavily_counts_real_corrections(tmp_path, gaz, risk_ctx):
    """Flagged exactly when at least ``min_corrections`` changes that are not ``*_inferred``."""
    for text, need in (("", 3), ("[rules.corrected_heavily]\nmin_corrections = 1\nignore = []\n", 1)):
        ctx = policy(tmp_path, text) if text else risk_ctx
        rows = clean(gaz, ctx, MESSY + [GOOD])
        counted = {a: [c for c in r["corrections"] if text or not c.endswith("_inferred")] for a, r in rows.items()}
        for a, r in rows.items():
            assert ("corrected_heavily" in r["risk_flags"]) == (len(counted[a]) >= need), (a, r["corrections"])
        assert any(len(c) >= need for c in counted.values()), "no messy record was corrected that much"
        assert "corrected_heavily" not in rows[GOOD]["risk_flags"]
    heavy = next(r for r in rows.values() if "corrected_heavily" in r["risk_flags"])  # ignore = []: all count
    reason = heavy["risk_reasons"][heavy["risk_flags"].index("corrected_heavily")]
    assert reason.startswith(f"{len(heavy['corrections'])} components were corrected")


def test_po_box_carriers(tmp_path, gaz):
    ctx = policy(tmp_path, '[rules.po_box]\ncarriers = ["UPS", "FedEx"]\nseverity = "high"\n')
    box = "PO Box 3344, Prattville, AL 36068"
    rows = clean_table(orders([box] * 4, carrier=["ups", "USPS", None, "FedEx"]), gaz, ctx).to_pylist()
    assert ["po_box" in r["risk_flags"] for r in rows] == [True, False, True, True]
    assert "ups cannot deliver" in rows[0]["risk_reasons"][0]
    assert "the courier" in rows[2]["risk_reasons"][0]
    assert [r["action"] for r in rows] == ["hold", "deliver", "hold", "hold"]
    # no list: every PO box, whoever carries it
    every = clean_table(orders([box] * 2, carrier=["USPS", None]), gaz, load_risk(DEMO / "risk.toml")).to_pylist()
    assert all("po_box" in r["risk_flags"] for r in every)


def test_missing_unit_threshold(tmp_path, gaz):
    ctx = policy(tmp_path, "[rules.missing_unit]\nmin_units = 30\n")
    row = clean(gaz, ctx, ["525 Gough St, San Francisco, CA 94102"])["525 Gough St, San Francisco, CA 94102"]
    assert "missing_unit" not in row["risk_flags"]  # 21 units < 30


def test_zone_rules_only_trust_the_precisions_they_are_given(tmp_path, gaz):
    text = ('[rules.outside_service_area]\nfiles = ["DEMO/service_areas.geojson"]\nprecisions = ["address_point"]\n'
            '[rules.high_risk_zone]\nfiles = ["DEMO/high_risk_zones.geojson"]\nprecisions = ["interpolated"]\n')
    rows = clean(gaz, policy(tmp_path, text), ["350 Fifth Avenue, New York, NY 10118",
                                               "490 McAllister St, San Francisco, CA 94102"])
    assert "outside_service_area" not in rows["350 Fifth Avenue, New York, NY 10118"]["risk_flags"]  # ZIP centroid
    assert "high_risk_zone" not in rows["490 McAllister St, San Francisco, CA 94102"]["risk_flags"]  # address point


def test_disabled_rule_and_changed_severity_and_actions(tmp_path, gaz):
    text = ('[rules.outside_service_area]\nenabled = false\n[rules.missing_unit]\nseverity = "high"\n'
            '[actions]\nhigh = "review"\n')
    rows = clean(gaz, policy(tmp_path, text), ["350 Fifth Avenue, New York, NY 10118",
                                               "525 Gough St, San Francisco, CA 94102"])
    assert "outside_service_area" not in rows["350 Fifth Avenue, New York, NY 10118"]["risk_flags"]
    gough = rows["525 Gough St, San Francisco, CA 94102"]
    assert gough["risk_flags"][0] == "missing_unit"  # now the worst, so first
    assert (gough["risk_level"], gough["action"]) == ("high", "review")


def test_custom_message_and_delivery_window(tmp_path, gaz):
    text = ('[delivery_window]\nstart = 09:30:00\nend = "17:00"\n'
            '[rules.missing_unit]\nmessage = "which of the {n_units} flats?"\n')
    row = clean(gaz, policy(tmp_path, text), ["525 Gough St, San Francisco, CA 94102"])[
        "525 Gough St, San Francisco, CA 94102"]
    assert row["risk_reasons"][row["risk_flags"].index("missing_unit")] == "which of the 21 flats?"
    assert row["delivery_window"] == "09:30-17:00 America/Los_Angeles"


def test_forwarder_list_compares_standardized_addresses(tmp_path, gaz):
    (tmp_path / "fw.csv").write_text('name,address\nSuite reshipper,"818 Van Ness Avenue Suite 204, San Francisco, '
                                     'CA 94109"\nBox agent,"PO Box 3344, Prattville, AL 36068"\n')
    ctx = policy(tmp_path, '[rules.forwarder]\nfile = "fw.csv"\n')
    same = ["818 VAN NESS AVE #204 SAN FRANCISCO CA 94109", "818 Van Ness Ave Ste 204, San Francisco 94109",
            "818 van ness av apt 204, san francisco, ca", "POB 3344, Prattville AL 36068"]
    other = ["818 Van Ness Ave #205, San Francisco, CA 94109", "818 Van Ness Ave, San Francisco, CA 94109",
             "PO Box 3345, Prattville, AL 36068"]
    rows = clean(gaz, ctx, same + other)
    assert [("forwarder" in rows[a]["risk_flags"]) for a in same] == [True] * len(same)
    assert [("forwarder" in rows[a]["risk_flags"]) for a in other] == [False] * len(other)
    assert "Suite reshipper" in rows[same[0]]["risk_reasons"][0]


def test_unchecked_addresses_are_reviewed_and_missing_ones_held(gaz):
    """Without service areas (whose own flag would hold an address far away), an address we
    have no street data for goes to review; one we checked and did not find is held."""
    rows = clean(gaz, load_risk(None), UNCOVERED + ["12 Lombart St, San Francisco, CA 94102"])
    for address in UNCOVERED:
        row = rows[address]
        assert (row["risk_flags"], row["risk_level"], row["action"]) == (["outside_coverage"], "medium", "review"), \
            (address, row["risk_flags"], row["reason"])
    missing = rows["12 Lombart St, San Francisco, CA 94102"]
    assert (missing["risk_flags"], missing["action"]) == (["undeliverable"], "hold")


def test_pmb_is_delivered_with_the_flag_by_default(gaz, risk_ctx):
    """A mailbox store signs for parcels: low risk, delivered, and the flag tells routing why."""
    for ctx in (risk_ctx, load_risk(None)):
        rows = clean(gaz, ctx, PMB[1:])  # the others, at an address point in the service area
        for address, row in rows.items():
            assert (row["risk_flags"], row["risk_level"], row["action"]) == (["pmb"], "low", "deliver"), address
            assert row["po_box"] == "512" and row["line1"] == "7 OCTAVIA ST PMB 512"


def test_policy_sets_what_pmb_and_outside_coverage_lead_to(tmp_path, gaz):
    text = '[rules.pmb]\nseverity = "medium"\n[rules.outside_coverage]\nseverity = "high"\n'
    uncovered, pmb = "12 Main St, Manchester, CT 06042", "7 Octavia St PMB 512, San Francisco, CA 94102"
    rows = clean(gaz, policy(tmp_path, text), [uncovered, pmb])
    assert (rows[uncovered]["risk_level"], rows[uncovered]["action"]) == ("high", "hold")
    assert (rows[pmb]["risk_level"], rows[pmb]["action"]) == ("medium", "review")
    text = '[rules.pmb]\nenabled = false\n[rules.outside_coverage]\nseverity = "none"\n'
    rows = clean(gaz, policy(tmp_path, text), [uncovered, pmb])
    assert rows[pmb]["risk_flags"] == [] and rows[pmb]["action"] == "deliver"
    assert rows[uncovered]["risk_flags"][-1] == "outside_coverage"  # the mildest: last
    assert "undeliverable" not in rows[uncovered]["risk_flags"]


def test_review_queue_is_worst_first(cleaned):
    table = pa.Table.from_pylist(list(cleaned.values()))
    queue = review_table(table).to_pylist()
    assert {r["order_id"] for r in queue} == {r["order_id"] for r in cleaned.values() if r["action"] != "deliver"}
    rank = {"high": 0, "medium": 1, "low": 2, "none": 3}
    keys = [(r["action"] != "hold", rank[r["risk_level"]], r["confidence"]) for r in queue]
    assert keys == sorted(keys)
    assert all(r["risk_reasons"] for r in queue)


def test_assess_on_an_empty_batch(risk_ctx):
    facts = {k: [] for k in ("status", "precision", "confidence", "kind", "zip_type", "zip_active", "postal_code",
                             "n_units", "has_base", "unit", "unit_known", "lat", "lon", "n_candidates",
                             "corrections", "address_key", "customer", "reason", "timezone", "coverage_gap",
                             "pmb")}
    out = assess(facts, risk_ctx)
    assert out == {"risk_flags": [], "risk_reasons": [], "risk_level": [], "action": [], "delivery_window": []}
