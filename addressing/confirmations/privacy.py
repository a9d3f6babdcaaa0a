"""What the decisions store holds about people, kept no longer than the policy says and erased
on request. Logs carry counts and a one-way digest of the address, never the address.

``purge_expired`` is what the nightly run calls (rows older than the risk policy's
``retention_days``); ``forget_address`` and ``forget_customer`` are ``addressing forget``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from addressing.confirmations import keys, store
from addressing.errors import InputError
from addressing.parse import parse
from addressing.risk import address_key, risk_context

log = logging.getLogger(__name__)


def purge_expired(db: str | Path, risk_policy: str | Path | None = None, given: str | Path | None = None) -> dict:
    """Delete the decisions older than the policy's ``retention_days`` from the store of
    gazetteer ``db``; returns ``{"store", "retention_days", "purged"}``."""
    days = risk_context(risk_policy).policy.retention_days
    path = store.store_path(db, given)
    purged = store.purge(path, days)
    log.info("decisions store %s: %d row(s) older than %d days purged", path, purged, days)
    return {"store": str(path), "retention_days": days, "purged": purged}


def forget_address(path: Path, text: str) -> dict:
    """Erase every row held for an address: inputs written as ``text`` is (any trivially
    different spelling: ``keys.input_key``) and results at that address. Returns the count and
    the address's digest (what may be logged)."""
    p = parse(text)
    key = keys.input_key(p)
    if key is None:
        raise InputError(f"not an address ({p.invalid_reason}); give it as on the order")
    result = address_key(p.house_number, p.predirectional, p.street_name, p.street_type, p.postdirectional, p.unit,
                         p.po_box, p.postal_code)
    erased = store.erase(path, input_key=key, result_key=result)
    log.info("forget: %d row(s) erased for address %s", erased, keys.digest(key))
    return {"erased": erased, "address": keys.digest(key)}


def forget_customer(path: Path, customer_id: str) -> dict:
    """Erase every row held for a customer (the orders' customer id column)."""
    if not str(customer_id).strip():
        raise InputError("give the customer's id")
    erased = store.erase(path, customer_id=str(customer_id).strip())
    log.info("forget: %d row(s) erased for customer %s", erased, keys.digest(str(customer_id).strip()))
    return {"erased": erased, "customer": keys.digest(str(customer_id).strip())}
