"""A batch asks libpostal once, for exactly the strings the rules parser and usaddress did not
settle; what it answers (or the error it gives) lands on those strings only."""

from __future__ import annotations

import pytest

import addressing.parse as parse_mod
from addressing.errors import ModelError
from addressing.parse import parse_batch

FOREIGN = "10 Downing St, London SW1A 2AA"
#: a US string usaddress reads unsure (no state or ZIP), so libpostal is asked too
UNSURE = "799 Autauga County 45 Al"
SETTLED = "7 Octavia St, San Francisco, CA 94102"
#: what libpostal answers for them, as it labels them
LABELS = {
    FOREIGN.upper(): [("10", "house_number"), ("downing st", "road"), ("london", "city"), ("sw1a 2aa", "postcode")],
    UNSURE.upper(): [("799", "house_number"), ("autauga county 45", "road"), ("al", "state")],
}


class Libpostal:
    """Stands in for ``libpostal_server.labels``: records each request, answers from
    ``LABELS``, or raises ``fail`` (for every request, or for requests holding ``fail_on``)."""

    def __init__(self, fail: Exception | None = None, fail_on: str | None = None):
        self.requests: list[list] = []
        self.fail, self.fail_on = fail, fail_on

    def __call__(self, requests):
        self.requests.append(list(requests))
        if self.fail is not None and (self.fail_on is None or any(t == self.fail_on for t, _ in requests)):
            raise self.fail
        return [LABELS[text.upper()] for text, _ in requests]


@pytest.fixture
def libpostal(monkeypatch):
    def use(fake: Libpostal) -> Libpostal:
        monkeypatch.setattr(parse_mod.libpostal_server, "labels", fake)
        return fake
    return use


def test_one_request_for_the_strings_that_need_it(libpostal):
    fake = libpostal(Libpostal())
    got = parse_batch([SETTLED, FOREIGN, UNSURE, FOREIGN, SETTLED.lower(), UNSURE])
    assert len(fake.requests) == 1
    assert sorted(t.upper() for t, _ in fake.requests[0]) == sorted([FOREIGN.upper(), UNSURE.upper()])
    assert [p.parser for p in got] == ["rules", "libpostal", "libpostal", "libpostal", "rules", "libpostal"]
    assert got[1].city == "LONDON" and got[1].postal_code == "SW1A 2AA"
    assert got[2].street_name == "AUTAUGA COUNTY 45" and got[2].state == "AL"
    assert got[1] is not got[3] and got[1] == got[3]  # repeats are copies


def test_no_request_when_every_string_is_settled(libpostal):
    fake = libpostal(Libpostal())
    parse_batch([SETTLED, "PO Box 12, Prattville AL 36067", None, ""])
    assert fake.requests == []


def test_without_a_model_a_us_string_keeps_usaddress_and_another_country_raises(libpostal):
    libpostal(Libpostal(fail=ModelError("no model")))
    [settled, unsure] = parse_batch([SETTLED, UNSURE])
    assert (settled.parser, unsure.parser) == ("rules", "usaddress")
    with pytest.raises(ModelError, match="no model"):
        parse_batch([SETTLED, FOREIGN])


def test_a_string_libpostal_fails_on_fails_alone(libpostal):
    fake = libpostal(Libpostal(fail=ValueError("odd"), fail_on=UNSURE))
    got = parse_batch([FOREIGN, UNSURE, SETTLED])
    assert len(fake.requests) == 3  # the batch, then each string alone
    assert got[0].parser == "libpostal" and got[0].city == "LONDON"
    assert got[1].invalid_reason == "address could not be parsed (ValueError)"
    assert got[2].parser == "rules" and not got[2].invalid_reason
