"""The accuracy benchmark's regions and kinds of mess are what ``benchmarks/match_accuracy.py``
says they are (ADDRESSING_REALDATA): every kind makes queries, each query carries its one kind,
the phenomena are really in their truths, and fit and report regions stay apart."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import accuracy_mess as mess  # noqa: E402
import accuracy_regions as regions  # noqa: E402

PER_KIND = 8
SEED = 5


@pytest.fixture(scope="module")
def bench(real, tmp_path_factory):
    return regions.build_bench(real, tmp_path_factory.mktemp("accuracy"))


@pytest.fixture(scope="module")
def queries(bench):
    return mess.make_queries(bench.truths, PER_KIND, SEED)


def test_fit_and_report_regions_are_disjoint_and_fixed():
    every = regions.all_regions()
    fit = {k for k, r in every.items() if r.side == regions.FIT}
    report = {k for k, r in every.items() if r.side == regions.REPORT}
    assert fit.isdisjoint(report) and fit | report == set(every)
    # the weights were tuned on SF + Oakland + Autauga, the calibration fitted on SF + Oakland
    assert {"sf", "oakland", "autauga"} <= fit
    assert {"berkeley", "trumbull", "park_wy", "sevier", "portland", "bucks", "grayson_va", "meagher"} <= report


def test_derived_regions_take_their_parents_side():
    every = regions.all_regions()
    derived = [r for r in every.values() if r.parent]
    assert {r.phenomenon for r in derived} == {regions.LEADING_ZERO, regions.LOOKALIKE, regions.TWO_ZIPS,
                                               regions.LETTERED}
    for r in derived:
        assert r.side == every[r.parent].side and every[r.parent].parent is None


def test_every_region_has_truths(bench):
    assert set(bench.truths) == set(regions.all_regions())
    for key, ts in bench.truths.items():
        assert ts, key
        assert all(t["region"] == key and t["zip"] and t["city"] and t["state"] for t in ts), key


def test_every_kind_makes_queries_on_both_sides(bench, queries):
    for side in (regions.FIT, regions.REPORT):
        kinds = {q.kind for q in queries if bench.regions[q.region].side == side}
        assert kinds == set(mess.KINDS), side


def test_a_lettered_query_holds_a_one_letter_street(queries):
    lettered = [q for q in queries if q.kind == "lettered"]
    assert lettered
    for q in lettered:
        letter = q.truth["name"]
        assert re.fullmatch(r"[A-Z]", letter)
        assert re.search(rf"^\d+ {letter} (St|Street|Pl|Place)\b", q.text), q.text


def test_a_leading_zero_query_has_a_zero_prefixed_truth_zip(queries):
    lz = [q for q in queries if q.kind == "leading_zero"]
    assert lz and any(q.zip_written != q.truth["zip"] for q in lz)   # the spreadsheet form is there
    for q in lz:
        assert q.truth["zip"].startswith("0") and len(q.truth["zip"]) == 5
        assert q.zip_written in (q.truth["zip"], q.truth["zip"].lstrip("0")) and q.wrote_right_zip
        assert re.search(rf"\b{q.zip_written}$", q.text), q.text


def test_a_lookalike_query_has_a_twin_of_another_type_in_its_zip(bench, queries):
    types = {}
    for ts in bench.truths.values():
        for t in ts:
            types.setdefault((t["zip"], t["name"]), set()).add(t["type"])
    look = [q for q in queries if q.kind == "lookalike"]
    assert look
    for q in look:
        assert types[(q.truth["zip"], q.truth["name"])] - {q.truth["type"]}, q.text


def _type_spelled_out(t: dict) -> str:
    return mess.render(mess.replace(mess.base(t), type=mess.long_form(t["type"])))[0]


def test_types_are_spelled_out_as_customers_do():
    assert [mess.long_form(t) for t in ("ST", "LN", "TRL", "PKWY", "WAY", "LOOP", "HWY", "CT", None)] == \
        ["STREET", "LANE", "TRAIL", "PARKWAY", "WAY", "LOOP", "HIGHWAY", "COURT", None]


def test_each_query_carries_its_one_kind(queries):
    """Everything but the kind is the well-formed query: a clean query is the clean rendering;
    a lettered or look-alike one is too, its type written either way; any other kind changes it."""
    for q in queries:
        clean = mess.render(mess.base(q.truth))
        if q.kind == "clean" or (q.kind == "leading_zero" and q.zip_written == q.truth["zip"]):
            assert (q.text, q.line2) == clean, q.text
        elif q.kind in ("lettered", "lookalike"):
            assert q.text in (clean[0], _type_spelled_out(q.truth)), q.text
        else:
            assert (q.text, q.line2) != clean, (q.kind, q.text)
    missing = [q for q in queries if q.kind == "missing_zip"]
    assert missing and all(not q.zip_written and not q.truth["zip_decides"] for q in missing)
    wrong = [q for q in queries if q.kind == "wrong_zip"]
    assert wrong and all(q.zip_written != q.truth["zip"] and not q.wrote_right_zip for q in wrong)
    assert all(q.truth["unit"] for q in queries if q.kind == "unit_form")


def test_queries_are_reproducible(bench, queries):
    again = mess.make_queries(bench.truths, PER_KIND, SEED)
    assert [(q.region, q.kind, q.text, q.line2) for q in again] == [(q.region, q.kind, q.text, q.line2)
                                                                      for q in queries]
